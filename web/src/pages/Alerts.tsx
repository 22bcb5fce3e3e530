import { useState } from "preact/hooks";
import { api, must, type Schemas } from "../api/client";
import { Empty, ErrorBox, Loading, Sparkline, useLoad, when } from "../ui";

type Alert = Schemas["LogsAlert"];

/** Logs alerts: state, last checks, and the counts of each alert's filter over the last day. */
export function Alerts({ projectId }: { projectId: number }) {
  const alerts = useLoad(
    () => must(api.GET("/api/projects/{project_id}/logs/alerts", { params: { path: { project_id: projectId } } })),
    [projectId],
  );
  const [open, setOpen] = useState<string | null>(null);
  const list = alerts.data?.results ?? [];
  return (
    <section aria-labelledby="alerts-title">
      <h2 id="alerts-title">Logs alerts</h2>
      <ErrorBox message={alerts.error} />
      <Loading when={alerts.loading} />
      {alerts.data && !list.length && <Empty>No alerts in this project.</Empty>}
      <ul class="cards">
        {list.map((alert) => (
          <li key={alert.id} class={`alert state-${alert.state}`}>
            <h3>{alert.name}</h3>
            <p>
              <span class="badge">{alert.state}</span> {alert.threshold_operator} {alert.threshold_count} in {alert.window_minutes} min ·
              last checked {when(alert.last_checked_at)}
            </p>
            {alert.last_error_message && <ErrorBox message={alert.last_error_message} />}
            <button type="button" aria-expanded={open === alert.id} onClick={() => setOpen(open === alert.id ? null : alert.id)}>
              {open === alert.id ? "Hide checks" : "Show checks"}
            </button>
            {open === alert.id && <AlertDetail projectId={projectId} alert={alert as unknown as Alert} />}
          </li>
        ))}
      </ul>
    </section>
  );
}

function AlertDetail({ projectId, alert }: { projectId: number; alert: Alert }) {
  const path = { project_id: projectId, id: alert.id };
  const events = useLoad(() => must(api.GET("/api/projects/{project_id}/logs/alerts/{id}/events", { params: { path } })), [alert.id]);
  const counts = useLoad(
    () =>
      must(
        api.POST("/api/projects/{project_id}/logs/sparkline", {
          params: { path: { project_id: projectId } },
          body: { query: { ...alert.filters, dateRange: { date_from: "-24h" } } } as never,
        }),
      ),
    [alert.id],
  );
  const checks = (events.data?.results ?? []).filter((e) => e.kind === "check").slice(0, 10);
  return (
    <div class="alert-detail">
      <ErrorBox message={counts.error} />
      {counts.data && <Sparkline label="Matching records per bucket over the last 24 hours" values={counts.data.map((b) => b.count)} />}
      <ErrorBox message={events.error} />
      {events.data && !checks.length && <Empty>No checks yet.</Empty>}
      {checks.length > 0 && (
        <table>
          <caption>Last checks</caption>
          <thead>
            <tr>
              <th scope="col">Window end</th>
              <th scope="col">Count</th>
              <th scope="col">Breached</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {checks.map((check) => (
              <tr key={check.id}>
                <td>{when(check.window_end)}</td>
                <td>{check.result_count ?? check.error_message}</td>
                <td>{check.threshold_breached ? "yes" : "no"}</td>
                <td>{check.state_after}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
