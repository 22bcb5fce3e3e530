import { useState } from "preact/hooks";
import { api, must, type Schemas } from "../api/client";
import { Empty, ErrorBox, IntentDiff, Loading, useLoad, when } from "../ui";

type ChangeRequest = Schemas["ChangeRequest"];

/** Change requests of the project waiting for a decision, the change as a diff, approve or reject with a reason. */
export function Inbox({ projectId }: { projectId: number }) {
  const [outcome, setOutcome] = useState<string>();
  const pending = useLoad(
    () =>
      must(
        api.GET("/api/projects/{project_id}/change_requests", {
          params: { path: { project_id: projectId }, query: { state: "pending" } as never },
        }),
      ),
    [projectId],
  );
  const mine = (pending.data?.results ?? []).filter((cr) => cr.can_approve);
  const others = (pending.data?.results ?? []).filter((cr) => !cr.can_approve);
  return (
    <section aria-labelledby="inbox-title">
      <h2 id="inbox-title">Change requests</h2>
      {outcome && <output>{outcome}</output>}
      <ErrorBox message={pending.error} />
      <Loading when={pending.loading} />
      <h3>Waiting for you</h3>
      {pending.data && !mine.length && <Empty>Nothing waits for your decision.</Empty>}
      {mine.map((cr) => (
        <Request
          key={cr.id}
          projectId={projectId}
          request={cr as unknown as ChangeRequest}
          onDecided={(message) => {
            setOutcome(message);
            pending.reload();
          }}
        />
      ))}
      {others.length > 0 && <h3>Other pending requests</h3>}
      {others.map((cr) => (
        <Request
          key={cr.id}
          projectId={projectId}
          request={cr as unknown as ChangeRequest}
          onDecided={(message) => {
            setOutcome(message);
            pending.reload();
          }}
        />
      ))}
    </section>
  );
}

function Request({ projectId, request, onDecided }: { projectId: number; request: ChangeRequest; onDecided: (message: string) => void }) {
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string>();
  const display = request.intent_display as {
    description?: string;
    before?: Record<string, unknown> | null;
    after?: Record<string, unknown> | null;
  };
  const path = { project_id: projectId, id: request.id };

  async function decide(decision: "approve" | "reject") {
    setError(undefined);
    try {
      const result =
        decision === "approve"
          ? await must(api.POST("/api/projects/{project_id}/change_requests/{id}/approve", { params: { path }, body: { reason } as never }))
          : await must(api.POST("/api/projects/{project_id}/change_requests/{id}/reject", { params: { path }, body: { reason } as never }));
      onDecided(`${display.description ?? request.action_key}: ${(result as { message?: string }).message ?? decision}`);
    } catch (e) {
      setError((e as Error).message);
    }
  }

  const reasonId = `reason-${request.id}`;
  return (
    <article class="request" aria-label={display.description}>
      <h4>{display.description ?? request.action_key}</h4>
      <p class="meta">
        {request.created_by?.email ?? "unknown"} · {when(request.created_at)} · expires {when(request.expires_at)} ·{" "}
        {request.approvals?.length ?? 0}/{(request.policy_snapshot as { quorum?: number }).quorum ?? "?"} approvals ·{" "}
        {request.validation_status}
      </p>
      <IntentDiff before={display.before ?? null} after={display.after ?? null} />
      {request.can_approve && (
        <div class="decide">
          <label for={reasonId}>Reason</label>
          <input id={reasonId} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          <button type="button" onClick={() => decide("approve")}>
            Approve
          </button>
          <button type="button" class="danger" onClick={() => decide("reject")}>
            Reject
          </button>
        </div>
      )}
      <ErrorBox message={error} />
    </article>
  );
}
