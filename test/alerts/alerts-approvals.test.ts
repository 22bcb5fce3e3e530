import { beforeAll, describe, expect, it } from "vitest";
import { createPolicy, decide, getChangeRequest } from "../approvals/approvals-helpers";
import { activityRows, addMember, call, signupFirstUser, type Tenant } from "../helpers";

let owner: Tenant;
let approver: Tenant;
let base: string;

beforeAll(async () => {
  owner = await signupFirstUser();
  approver = await addMember(owner, 8);
  base = `/api/projects/${owner.projectId}/logs/alerts`;
  await createPolicy(owner, { action_key: "logs_alert.update", approver_config: { users: [approver.userId], quorum: 1 } });
  await createPolicy(owner, { action_key: "logs_alert.delete", approver_config: { users: [approver.userId], quorum: 1 } });
});

const newAlert = async () => (await call(`${base}/`, { key: owner.key, body: { filters: { severityLevels: ["error"] } } })).body;
const patch = (id: string, body: Record<string, unknown>) => call(`${base}/${id}/`, { key: owner.key, method: "PATCH", body });

describe("approval gates on logs alerts", () => {
  it("lets renames, cooldowns and snoozes through and gates a threshold change until approved", async () => {
    const alert = await newAlert();
    expect((await patch(alert.id, { name: "Errors", cooldown_minutes: 10 })).status).toBe(200);
    expect((await patch(alert.id, { snooze_until: new Date(Date.now() + 3_600_000).toISOString() })).status).toBe(200);

    const gated = await patch(alert.id, { threshold_count: 1000 });
    expect(gated.status).toBe(409);
    expect(gated.body).toMatchObject({
      code: "approval_required",
      resource_type: "LogsAlertConfiguration",
      resource_id: alert.id,
      change_request: {
        action_key: "logs_alert.update",
        state: "pending",
        intent_display: { before: { threshold_count: 100 }, after: { threshold_count: 1000 } },
      },
    });
    expect((await call(`${base}/${alert.id}/`, { key: owner.key })).body.threshold_count).toBe(100);
    expect((await patch(alert.id, { filters: { severityLevels: ["fatal"] } })).body.code).toBe("change_request_pending");

    const approved = await decide(approver, gated.body.change_request_id, "approve");
    expect(approved.status).toBe(200);
    expect((await getChangeRequest(owner, gated.body.change_request_id)).body.state).toBe("applied");
    const after = (await call(`${base}/${alert.id}/`, { key: owner.key })).body;
    expect(after).toMatchObject({ threshold_count: 1000, state: "snoozed" });
    const [row] = (await activityRows({ scope: "LogsAlertConfiguration", activity: "updated" })).filter(
      (r) => r.item_id === alert.id && r.detail.trigger,
    );
    expect(row).toMatchObject({ user_id: owner.userId });
    expect(row?.detail.changes).toEqual([expect.objectContaining({ field: "threshold_count", before: 100, after: 1000 })]);
  });

  it("gates switching an alert off but not on, and gates deletion", async () => {
    const alert = await newAlert();
    const off = await patch(alert.id, { enabled: false });
    expect([off.status, off.body.code]).toEqual([409, "approval_required"]);
    await decide(approver, off.body.change_request_id, "approve");
    expect((await call(`${base}/${alert.id}/`, { key: owner.key })).body).toMatchObject({ enabled: false, next_check_at: null });
    expect((await patch(alert.id, { enabled: true })).status).toBe(200);

    const removal = await call(`${base}/${alert.id}/`, { key: owner.key, method: "DELETE" });
    expect([removal.status, removal.body.code, removal.body.change_request.action_key]).toEqual([
      409,
      "approval_required",
      "logs_alert.delete",
    ]);
    expect((await call(`${base}/${alert.id}/`, { key: owner.key })).status).toBe(200);
    await decide(approver, removal.body.change_request_id, "approve");
    expect((await call(`${base}/${alert.id}/`, { key: owner.key })).status).toBe(404);
  });

  it("fails the apply when the alert was edited after the request", async () => {
    const alert = await newAlert();
    const gated = await patch(alert.id, { threshold_operator: "below" });
    expect(gated.status).toBe(409);
    expect((await patch(alert.id, { name: "Edited meanwhile" })).status).toBe(200);
    await decide(approver, gated.body.change_request_id, "approve");
    const request = (await getChangeRequest(owner, gated.body.change_request_id)).body;
    expect(request).toMatchObject({ state: "failed" });
    expect(request.apply_error).toContain("Precondition failed");
    expect((await call(`${base}/${alert.id}/`, { key: owner.key })).body.threshold_operator).toBe("above");
  });

  it("lets a policy's bypass level through", async () => {
    const project = await call("/api/projects/", { key: owner.key, body: { name: "Bypass" } });
    await createPolicy(
      owner,
      { action_key: "logs_alert.update", approver_config: { users: [approver.userId], quorum: 1 }, bypass_org_membership_levels: [15] },
      project.body.id,
    );
    const path = `/api/projects/${project.body.id}/logs/alerts`;
    const alert = (await call(`${path}/`, { key: owner.key, body: { filters: { severityLevels: ["error"] } } })).body;
    const res = await call(`${path}/${alert.id}/`, { key: owner.key, method: "PATCH", body: { threshold_count: 3 } });
    expect([res.status, res.body.threshold_count]).toEqual([200, 3]);
  });
});
