import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { revalidatePendingChangeRequests } from "../../src/approvals/revalidation.job";
import type { NotificationMessage } from "../../src/lib/messages";
import { activityRows, addMember, call, signupFirstUser, type Tenant } from "../helpers";
import { createPolicy, decide, getChangeRequest } from "./approvals-helpers";

let owner: Tenant;
let a1: Tenant;
let a2: Tenant;
let target: Tenant;

const objectStub = (id: string) => env.CHANGE_REQUESTS.get(env.CHANGE_REQUESTS.idFromName(id));
const HOUR = 3600_000;

beforeAll(async () => {
  owner = await signupFirstUser();
  a1 = await addMember(owner, 1);
  a2 = await addMember(owner, 1);
  target = await addMember(owner, 1);
  await createPolicy(owner, {
    action_key: "organization_member.update",
    approver_config: { users: [a1.userId, a2.userId], quorum: 2 },
    expires_after: "00:10:00",
  });
});

afterEach(() => vi.restoreAllMocks());

const setLevel = (uuid: string, level: number) =>
  call(`/api/organizations/${owner.organizationId}/members/${uuid}/`, { key: owner.key, method: "PATCH", body: { level } });

/** Events the object published, read from its queue binding while the spy is on. */
function spyOnEvents() {
  const sent: NotificationMessage[] = [];
  vi.spyOn(env.NOTIFICATIONS_QUEUE, "sendBatch").mockImplementation(async (batch) => {
    for (const message of batch) sent.push(message.body as NotificationMessage);
    return undefined as never;
  });
  return () => sent.flatMap((m) => (m.kind === "event" ? [m.event] : []));
}

describe("expiry and re-validation", () => {
  it("expires a pending request from the object's alarm (a system step), publishing change_request_expired", async () => {
    const gated = await setLevel(target.userUuid, 8);
    const id = gated.body.change_request_id;
    const alarmAt = await runInDurableObject(objectStub(id), (_instance, state) => state.storage.getAlarm());
    expect(alarmAt).toBe(Date.parse(gated.body.change_request.expires_at));
    expect(alarmAt! - Date.parse(gated.body.change_request.created_at)).toBe(10 * 60 * 1000);

    const events = spyOnEvents();
    expect(await runDurableObjectAlarm(objectStub(id))).toBe(true);
    const expired = await getChangeRequest(owner, id);
    expect(expired.body.state).toBe("expired");
    const row = (await activityRows({ scope: "ChangeRequest", activity: "expired" })).at(-1);
    expect(row).toMatchObject({ item_id: id, user_id: null, is_system: 1 });
    expect(row?.detail.changes).toEqual([
      { type: "ChangeRequest", action: "changed", field: "state", before: "pending", after: "expired" },
    ]);
    await vi.waitFor(() => expect(events().map((e) => e.type)).toContain("change_request_expired"));
    expect(events()[0]).toMatchObject({
      id: `${id}:change_request_expired`,
      organizationId: owner.organizationId,
      scope: "ChangeRequest",
      activity: "expired",
      itemId: id,
      data: { change_request: { id, state: "expired", action_key: "organization_member.update" }, actor: null },
    });

    expect((await decide(a1, id, "approve")).status).toBe(403);
    expect(await runDurableObjectAlarm(objectStub(id))).toBe(false);
    // An expired request no longer blocks a new one.
    expect((await setLevel(target.userUuid, 8)).body.code).toBe("approval_required");
  });

  it("publishes created, approved and applied events and drops the alarm once the request is decided", async () => {
    const other = await addMember(owner, 1);
    const events = spyOnEvents();
    const id = (await setLevel(other.userUuid, 8)).body.change_request_id;
    await decide(a1, id, "approve", { reason: "ok" });
    await decide(a2, id, "approve");
    await vi.waitFor(() => expect(events()).toHaveLength(4));
    expect(events().map((e) => [e.type, e.id])).toEqual(
      expect.arrayContaining([
        ["change_request_created", `${id}:change_request_created`],
        ["change_request_approved", `${id}:change_request_approved:${a1.userId}`],
        ["change_request_approved", `${id}:change_request_approved:${a2.userId}`],
        ["change_request_applied", `${id}:change_request_applied`],
      ]),
    );
    const approval = events().find((e) => e.id === `${id}:change_request_approved:${a1.userId}`);
    expect(approval?.data).toMatchObject({
      change_request: { approvals_received: 1, quorum: 2, state: "pending" },
      requester: { id: owner.userId, email: expect.any(String) },
      actor: { id: a1.userId },
      reason: "ok",
    });
    expect(await runInDurableObject(objectStub(id), (_instance, state) => state.storage.getAlarm())).toBeNull();
  });

  it("re-validates pending requests hourly: stale when the resource changed, invalid when it is gone", async () => {
    const [changed, removed, untouched] = [await addMember(owner, 1), await addMember(owner, 1), await addMember(owner, 1)];
    const staleId = (await setLevel(changed.userUuid, 8)).body.change_request_id;
    const goneId = (await setLevel(removed.userUuid, 8)).body.change_request_id;
    const validId = (await setLevel(untouched.userUuid, 8)).body.change_request_id;
    await decide(a1, staleId, "approve");
    // Every level change is gated here, so the membership is touched directly.
    await env.DB.prepare("update organization_memberships set updated_at = updated_at + 1 where user_id = ?").bind(changed.userId).run();
    await call(`/api/organizations/${owner.organizationId}/members/${removed.userUuid}/`, { key: owner.key, method: "DELETE" });

    expect(await revalidatePendingChangeRequests(env, Date.now())).toMatchObject({ checked: 0 });
    const counts = await revalidatePendingChangeRequests(env, Date.now() + 2 * HOUR);
    expect(counts).toMatchObject({ stale: 1, invalid: 1, errors: 0 });
    expect(counts.valid).toBeGreaterThanOrEqual(1);

    const stale = (await getChangeRequest(owner, staleId)).body;
    expect(stale).toMatchObject({
      validation_status: "stale",
      validation_errors: { staleness: "Resource has been modified since this change request was created" },
      // Approvals no longer prevent the requester from withdrawing a stale request.
      can_cancel: true,
    });
    expect(Date.parse(stale.validated_at)).toBeGreaterThan(Date.parse(stale.created_at));
    expect((await getChangeRequest(owner, goneId)).body).toMatchObject({
      validation_status: "invalid",
      validation_errors: { resource: expect.any(String) },
    });
    expect((await getChangeRequest(owner, validId)).body).toMatchObject({ validation_status: "valid", validation_errors: null });
    const updates = (await activityRows({ scope: "ChangeRequest", activity: "updated" })).filter((r) =>
      [staleId, goneId].includes(r.item_id),
    );
    expect(updates).toHaveLength(2);
    expect(updates.every((r) => r.is_system === 1)).toBe(true);

    // Checked within the hour, or stale: the next run leaves them alone.
    expect(await revalidatePendingChangeRequests(env, Date.now() + HOUR / 2)).toMatchObject({ checked: 0 });
    expect((await decide(owner, staleId, "cancel")).body.status).toBe("canceled");
  });
});
