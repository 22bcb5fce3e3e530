import { beforeAll, describe, expect, it } from "vitest";
import { activityRows, addMember, call, keyWithScopes, signupFirstUser, type Tenant } from "../helpers";
import { changeRequestsPath, createPolicy, decide, getChangeRequest } from "./approvals-helpers";

let app: Tenant;
let a1: Tenant;
let a2: Tenant;

beforeAll(async () => {
  app = await signupFirstUser();
  a1 = await addMember(app, 1);
  a2 = await addMember(app, 1);
  await createPolicy(app, {
    action_key: "app.feature_flag.update",
    approver_config: { users: [a1.userId, a2.userId], quorum: 2 },
    conditions: { type: "change_amount", field: "rollout_percentage", operator: ">", value: 10 },
  });
});

const rollout = (flagId: string, before: number, after: number) => ({
  action_key: "app.feature_flag.update",
  resource_type: "FeatureFlag",
  resource_id: flagId,
  intent: {
    current_state: { rollout_percentage: [{ path: "filters.groups[0].rollout_percentage", value: before }] },
    gated_changes: { rollout_percentage: [{ path: "filters.groups[0].rollout_percentage", value: after }] },
    full_request_data: { filters: { groups: [{ rollout_percentage: after }] } },
    preconditions: { version: 7 },
    flag_key: "new-checkout",
  },
  intent_display: { description: `Roll out new-checkout to ${after}%`, before: { rollout: before }, after: { rollout: after } },
});

const ask = (body: unknown, who: Tenant = app) => call(changeRequestsPath(who.projectId), { key: who.key, body });

describe("change requests for apps' own resources", () => {
  it("goes request -> approvals -> approved -> complete -> applied", async () => {
    const created = await ask(rollout("42", 10, 50));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      action_key: "app.feature_flag.update",
      resource_type: "FeatureFlag",
      resource_id: "42",
      state: "pending",
      intent: { flag_key: "new-checkout", preconditions: { version: 7 } },
      intent_display: { description: "Roll out new-checkout to 50%", after: { rollout: 50 } },
      is_requester: true,
    });
    const id = created.body.id;
    expect((await decide(app, id, "complete", { success: true })).body.detail).toBe("Only approved change requests can be completed.");
    await decide(a1, id, "approve");
    const approved = await decide(a2, id, "approve");
    expect(approved.body).toMatchObject({ status: "approved", change_request: { state: "approved", applied_at: null } });
    expect(approved.body.message).toContain("complete/");
    // The app polls for approved requests.
    const polled = await call(`${changeRequestsPath(app.projectId)}?state=approved&action_key=app.feature_flag.update`, { key: app.key });
    expect(polled.body.results.map((r: any) => r.id)).toEqual([id]);

    expect((await decide(a1, id, "complete", { success: true })).status).toBe(403);
    const done = await decide(app, id, "complete", { success: true, result_data: { resource_id: "42", resource_version: 8 } });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({
      status: "applied",
      change_request: { state: "applied", applied_by: { id: app.userId }, result_data: { resource_id: "42", resource_version: 8 } },
    });
    expect((await decide(app, id, "complete", { success: true })).status).toBe(400);
    const steps = (await activityRows({ scope: "ChangeRequest" })).filter((r) => r.item_id === id).map((r) => [r.activity, r.user_id]);
    expect(steps).toEqual([
      ["created", app.userId],
      ["approved", a1.userId],
      ["approved", a2.userId],
      ["applied", app.userId],
    ]);
  });

  it("records a failed apply reported by the app (a reason is required)", async () => {
    const id = (await ask(rollout("43", 0, 100))).body.id;
    await decide(a1, id, "approve");
    await decide(a2, id, "approve");
    const noReason = await decide(app, id, "complete", { success: false });
    expect(noReason.body).toMatchObject({ attr: "apply_error", code: "required" });
    const failed = await decide(app, id, "complete", { success: false, apply_error: "flag was archived" });
    expect(failed.body).toMatchObject({ status: "failed", change_request: { state: "failed", apply_error: "flag was archived" } });
    expect((await activityRows({ scope: "ChangeRequest", activity: "failed" })).at(-1)?.detail.context.apply_error).toBe(
      "flag was archived",
    );
  });

  it("says when no approval is needed, and refuses a second open request for the same resource", async () => {
    const small = await ask(rollout("44", 10, 15));
    expect(small.status).toBe(200);
    expect(small.body).toEqual({ status: "not_required", message: "Change does not require approval", change_request: null });
    const unguarded = await ask({ ...rollout("44", 10, 90), action_key: "app.segment.delete" });
    expect(unguarded.body).toMatchObject({ status: "not_required", message: "No approval policy for this action" });
    const first = await ask(rollout("45", 10, 90));
    const second = await ask(rollout("45", 10, 80));
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ code: "change_request_pending", change_request_id: first.body.id, resource_id: "45" });
    expect((await decide(app, first.body.id, "cancel")).body.status).toBe("canceled");
    expect((await ask(rollout("45", 10, 80))).status).toBe(201);
  });

  it("validates the request and refuses complete/ on the service's own requests", async () => {
    expect((await ask({ ...rollout("46", 1, 50), action_key: "project.delete" })).body.attr).toBe("action_key");
    expect((await ask({ ...rollout("46", 1, 50), intent: { gated_changes: { x: "not a list" } } })).body.attr).toMatch(
      /^intent__gated_changes/,
    );
    expect((await ask({ ...rollout("46", 1, 50), intent_display: {} })).body.attr).toBe("intent_display__description");
    expect((await ask({ ...rollout("46", 1, 50), resource_type: "" })).body.attr).toBe("resource_type");
    const huge = rollout("46", 1, 50);
    huge.intent.full_request_data = { blob: "x".repeat(70_000) } as never;
    expect((await ask(huge)).body).toMatchObject({ attr: "intent", detail: "The intent is larger than 64 KB." });

    await createPolicy(app, { action_key: "project.delete", approver_config: { users: [a1.userId], quorum: 1 } });
    const own = await call(`/api/projects/${app.projectId}/`, { key: app.key, method: "DELETE" });
    const refused = await decide(app, own.body.change_request_id, "complete", { success: true });
    expect(refused.status).toBe(400);
    expect(refused.body.detail).toContain("app change requests");
  });

  it("needs approvals:write to ask or complete", async () => {
    const readOnly = await keyWithScopes(app, ["approvals:read"]);
    expect((await call(changeRequestsPath(app.projectId), { key: readOnly, body: rollout("47", 0, 50) })).status).toBe(403);
    expect((await call(changeRequestsPath(app.projectId), { body: rollout("47", 0, 50) })).status).toBe(401);
    const id = (await ask(rollout("47", 0, 50))).body.id;
    expect((await getChangeRequest({ ...app, key: readOnly }, id)).status).toBe(200);
    const denied = await call(`${changeRequestsPath(app.projectId)}${id}/complete/`, {
      key: readOnly,
      method: "POST",
      body: { success: true },
    });
    expect(denied.status).toBe(403);
  });
});
