import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { activityRows, addMember, call, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";
import { captureQueue } from "../notifications/notify-helpers";
import { changeRequestsPath, createPolicy, decide, getChangeRequest, mirrorRow } from "./approvals-helpers";

let root: Tenant;
beforeAll(async () => {
  root = await signupFirstUser();
});

/** A fresh organization owned by root's user, with three member-level approvers. */
async function team() {
  const org = await call("/api/organizations/", { key: root.key, body: { name: `CR ${crypto.randomUUID().slice(0, 8)}` } });
  const owner: Tenant = { ...root, organizationId: org.body.id, projectId: org.body.projects[0].id };
  const [a1, a2, a3] = [await addMember(owner, 1), await addMember(owner, 1), await addMember(owner, 1)];
  return { owner, a1: a1!, a2: a2!, a3: a3! };
}

/** The same user, addressing another project (a project's change requests are reached through it). */
const on = (who: Tenant, projectId: number): Tenant => ({ ...who, projectId });

async function newProject(owner: Tenant, name: string): Promise<number> {
  return (await call("/api/projects/", { key: owner.key, body: { name, organization: owner.organizationId } })).body.id;
}

describe("change requests", () => {
  it("takes seed 001's example bodies: the change request's read-only fields are ignored, other fields refused", async () => {
    const { owner, a1, a2 } = await team();
    await createPolicy(owner, { action_key: "organization.update", approver_config: { users: [a1.userId, a2.userId], quorum: 2 } });
    const gate = (name: string) => call(`/api/organizations/${owner.organizationId}/`, { key: owner.key, method: "PATCH", body: { name } });
    const id = (await gate("Seed body")).body.change_request_id;
    // `curl ... /approve/ -d action_key="string"`
    const approved = await decide(a1, id, "approve", { action_key: "string" });
    expect(approved.status).toBe(200);
    expect(approved.body.change_request.action_key).toBe("organization.update");
    const unknown = await decide(a2, id, "approve", { colour: "red" });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ type: "validation_error", detail: "Unknown field: colour." });
    const rejected = await decide(a2, id, "reject", { reason: "no", action_key: "string", state: "applied" });
    expect(rejected.status).toBe(200);
    expect(rejected.body.change_request.state).toBe("rejected");

    const second = (await gate("Seed body 2")).body.change_request_id;
    const canceled = await decide(owner, second, "cancel", { action_key: "string", id: "x" });
    expect(canceled.status).toBe(200);
    expect(canceled.body.status).toBe("canceled");
  });

  it("applies exactly once at quorum (2 of 3), as the requester, with an activity row per step", async () => {
    const { owner, a1, a2, a3 } = await team();
    await createPolicy(owner, {
      action_key: "organization.update",
      approver_config: { users: [a1.userId, a2.userId, a3.userId], quorum: 2 },
    });
    const gated = await call(`/api/organizations/${owner.organizationId}/`, {
      key: owner.key,
      method: "PATCH",
      body: { name: "Approved name" },
    });
    const id = gated.body.change_request_id;

    const first = await decide(a1, id, "approve", { reason: "looks fine" });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: "approved", message: "Approval recorded. 1/2 approvals received." });
    expect(first.body.result).toBeUndefined();
    expect(first.body.change_request).toMatchObject({ state: "pending", user_decision: "approved", is_requester: false });
    expect(first.body.change_request.approvals).toEqual([
      expect.objectContaining({ created_by: expect.objectContaining({ id: a1.userId }), decision: "approved", reason: "looks fine" }),
    ]);
    const twice = await decide(a1, id, "approve");
    expect(twice.status).toBe(400);
    expect(twice.body).toMatchObject({ code: "already_voted", detail: "You have already voted on this change request." });

    const second = await decide(a2, id, "approve");
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({
      status: "applied",
      message: "Quorum reached. Change applied successfully.",
      result: { resource_id: owner.organizationId, resource_version: null },
      change_request: { state: "applied", applied_by: { id: owner.userId }, result_data: { resource_id: owner.organizationId } },
    });
    expect(second.body.change_request.applied_at).toMatch(/Z$/);
    expect((await call(`/api/organizations/${owner.organizationId}/`, { key: owner.key })).body.name).toBe("Approved name");

    const late = await decide(a3, id, "approve");
    expect(late.status).toBe(403);
    expect(late.body.detail).toBe("Only pending change requests can be approved");

    const applied = (await activityRows({ scope: "Organization", activity: "updated" })).filter(
      (r) => r.organization_id === owner.organizationId,
    );
    expect(applied).toHaveLength(1);
    expect(applied[0]).toMatchObject({ user_id: owner.userId, is_system: 0 });
    expect(applied[0]?.detail.trigger).toMatchObject({
      job_type: "change_request",
      job_id: id,
      payload: { approved_by: [a1.userId, a2.userId] },
    });
    const steps = (await activityRows({ scope: "ChangeRequest" })).filter((r) => r.item_id === id);
    expect(steps.map((r) => [r.activity, r.user_id])).toEqual([
      ["created", owner.userId],
      ["approved", a1.userId],
      ["approved", a2.userId],
      ["applied", a2.userId],
    ]);
    expect(steps[3]?.detail.changes).toEqual([
      { type: "ChangeRequest", action: "changed", field: "state", before: "approved", after: "applied" },
    ]);
    expect((await mirrorRow(id))?.state).toBe("applied");
  });

  it("enforces who may vote: not the requester (unless allowed), only approvers, role approvers too", async () => {
    const { owner, a1, a2, a3 } = await team();
    const role = await call(`/api/organizations/${owner.organizationId}/roles/`, { key: owner.key, body: { name: "Approvers" } });
    await call(`/api/organizations/${owner.organizationId}/roles/${role.body.id}/role_memberships/`, {
      key: owner.key,
      body: { user_uuid: a2.userUuid },
    });
    await createPolicy(owner, {
      action_key: "project.delete",
      organization_wide: true,
      approver_config: { users: [owner.userId, a1.userId], roles: [role.body.id], quorum: 1 },
    });
    const doomed = await newProject(owner, "Doomed");
    const gated = await call(`/api/projects/${doomed}/`, { key: owner.key, method: "DELETE" });
    const id = gated.body.change_request_id;
    expect(gated.body.detail).toBe("A change request has been created and is pending approval from others.");
    const own = await decide(on(owner, doomed), id, "approve");
    expect(own.status).toBe(403);
    expect(own.body.detail).toBe("You cannot approve your own change request");
    const outsider = await decide(on(a3, doomed), id, "approve");
    expect(outsider.body.detail).toBe("You are not in the approver set for this change request");
    expect((await getChangeRequest(on(a3, doomed), id)).body.can_approve).toBe(false);
    expect((await getChangeRequest(on(a2, doomed), id)).body.can_approve).toBe(true);
    const viaRole = await decide(on(a2, doomed), id, "approve");
    expect(viaRole.body.status).toBe("applied");
    expect((await call(`/api/projects/${doomed}/`, { key: owner.key })).status).toBe(404);

    const selfProject = await newProject(owner, "Self-approved");
    await createPolicy(
      owner,
      { action_key: "project.delete", approver_config: { users: [owner.userId], quorum: 1 }, allow_self_approve: true },
      selfProject,
    );
    const mine = await call(`/api/projects/${selfProject}/`, { key: owner.key, method: "DELETE" });
    expect(mine.body.detail).toBe("A change request has been created and is pending approval.");
    expect(mine.body.change_request.can_approve).toBe(true);
    expect((await decide(on(owner, selfProject), mine.body.change_request_id, "approve")).body.status).toBe("applied");
  });

  it("rejects with a required reason and ends the request", async () => {
    const { owner, a1, a2 } = await team();
    await createPolicy(owner, {
      action_key: "project.delete",
      organization_wide: true,
      approver_config: { users: [a1.userId, a2.userId], quorum: 2 },
    });
    const project = await newProject(owner, "Kept");
    const id = (await call(`/api/projects/${project}/`, { key: owner.key, method: "DELETE" })).body.change_request_id;
    const noReason = await decide(on(a1, project), id, "reject", {});
    expect(noReason.status).toBe(400);
    expect(noReason.body).toMatchObject({ attr: "reason" });
    expect((await decide(on(a1, project), id, "reject", { reason: " " })).body.detail).toBe("A reason is required for rejection.");
    const rejected = await decide(on(a1, project), id, "reject", { reason: "Still in use" });
    expect(rejected.body).toMatchObject({
      status: "rejected",
      message: "Change request rejected.",
      change_request: { state: "rejected", user_decision: "rejected" },
    });
    expect((await decide(on(a2, project), id, "approve")).status).toBe(403);
    expect((await call(`/api/projects/${project}/`, { key: owner.key })).status).toBe(200);
    const row = (await activityRows({ scope: "ChangeRequest", activity: "rejected" })).at(-1);
    expect(row).toMatchObject({ item_id: id, user_id: a1.userId });
    expect(row?.detail.context.reason).toBe("Still in use");
    // A closed request no longer blocks a new one for the same resource.
    expect((await call(`/api/projects/${project}/`, { key: owner.key, method: "DELETE" })).body.code).toBe("approval_required");
  });

  it("lets only the requester cancel, only while pending and before any approval", async () => {
    const { owner, a1, a2 } = await team();
    await createPolicy(owner, {
      action_key: "project.delete",
      organization_wide: true,
      approver_config: { users: [a1.userId, a2.userId], quorum: 2 },
    });
    const [p1, p2] = [await newProject(owner, "One"), await newProject(owner, "Two")];
    const id = (await call(`/api/projects/${p1}/`, { key: owner.key, method: "DELETE" })).body.change_request_id;
    const notMine = await decide(on(a1, p1), id, "cancel");
    expect(notMine.status).toBe(403);
    expect(notMine.body.detail).toBe("You cannot cancel this change request");
    const canceled = await decide(on(owner, p1), id, "cancel");
    expect(canceled.body).toMatchObject({
      status: "canceled",
      message: "Change request canceled.",
      change_request: { state: "rejected", can_cancel: false, user_decision: "rejected" },
    });
    expect(canceled.body.change_request.approvals).toEqual([
      expect.objectContaining({
        created_by: expect.objectContaining({ id: owner.userId }),
        decision: "rejected",
        reason: "Canceled by requester",
      }),
    ]);
    expect((await decide(on(owner, p1), id, "cancel")).status).toBe(403);
    expect((await activityRows({ scope: "ChangeRequest", activity: "rejected" })).at(-1)?.detail.context).toMatchObject({ canceled: true });

    const second = (await call(`/api/projects/${p2}/`, { key: owner.key, method: "DELETE" })).body.change_request_id;
    await decide(on(a1, p2), second, "approve");
    expect((await getChangeRequest(on(owner, p2), second)).body.can_cancel).toBe(false);
    expect((await decide(on(owner, p2), second, "cancel", { reason: "changed my mind" })).status).toBe(403);
  });

  it("fails the apply when the resource changed since the request, or the requester lost the right", async () => {
    const { owner, a1 } = await team();
    await createPolicy(owner, {
      action_key: "project.delete",
      organization_wide: true,
      approver_config: { users: [a1.userId], quorum: 1 },
    });
    const project = await newProject(owner, "Moving target");
    const id = (await call(`/api/projects/${project}/`, { key: owner.key, method: "DELETE" })).body.change_request_id;
    await call(`/api/projects/${project}/`, { key: owner.key, method: "PATCH", body: { name: "Renamed meanwhile" } });
    const res = await decide(on(a1, project), id, "approve");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "failed", change_request: { state: "failed", applied_at: null } });
    expect(res.body.change_request.apply_error).toBe(
      `Precondition failed: Project ${project} was modified since the change request was created`,
    );
    expect(res.body.message).toContain("Quorum reached but application failed: Precondition failed");
    expect((await call(`/api/projects/${project}/`, { key: owner.key })).status).toBe(200);
    const failed = (await activityRows({ scope: "ChangeRequest", activity: "failed" })).at(-1);
    expect(failed).toMatchObject({ item_id: id, user_id: a1.userId });
    expect(failed?.detail.context.apply_error).toContain("Precondition failed");

    const admin = await addMember(owner, 8);
    const other = await newProject(owner, "Admin's request");
    const byAdmin = (await call(`/api/projects/${other}/`, { key: admin.key, method: "DELETE" })).body.change_request_id;
    await call(`/api/organizations/${owner.organizationId}/members/${admin.userUuid}/`, {
      key: owner.key,
      method: "PATCH",
      body: { level: 1 },
    });
    const demoted = await decide(on(a1, other), byAdmin, "approve");
    expect(demoted.body.change_request.apply_error).toBe("Validation failed: the requester is no longer an admin of this organization");
    expect((await call(`/api/projects/${other}/`, { key: owner.key })).status).toBe(200);
  });

  it("creates a gated `*` key when its request is applied; the value from the 409 then works", async () => {
    const { owner, a1 } = await team();
    await createPolicy(owner, { action_key: "personal_api_key.create", approver_config: { users: [a1.userId], quorum: 1 } });
    const gated = await call("/api/personal_api_keys/", {
      key: root.key,
      body: { label: "Root everything", scopes: ["*"], scoped_organizations: [owner.organizationId] },
    });
    expect(gated.status).toBe(409);
    const value = gated.body.pending_personal_api_key.value;
    expect((await call("/api/users/@me/", { key: value })).status).toBe(401);
    const res = await decide(a1, gated.body.change_request_id, "approve");
    expect(res.body.status).toBe("applied");
    expect(res.body.result.resource_id).toBe(gated.body.pending_personal_api_key.id);
    expect((await call("/api/users/@me/", { key: value })).status).toBe(200);
    const created = (await activityRows({ scope: "PersonalAPIKey", activity: "created" })).filter(
      (r) => r.item_id === res.body.result.resource_id,
    );
    expect(created.length).toBeGreaterThan(0);
    expect(created.every((r) => r.user_id === root.userId && r.detail.changes[0].after.value === "masked")).toBe(true);
  });

  it("lists with filters and computes the per-caller fields", async () => {
    const { owner, a1, a2 } = await team();
    await createPolicy(owner, {
      action_key: "project.delete",
      organization_wide: true,
      approver_config: { users: [a1.userId], quorum: 1 },
    });
    await createPolicy(owner, { action_key: "organization.update", approver_config: { users: [a1.userId], quorum: 1 } });
    const p = await newProject(owner, "Listed");
    const del = (await call(`/api/projects/${p}/`, { key: owner.key, method: "DELETE" })).body.change_request_id;
    const upd = (
      await call(`/api/organizations/${owner.organizationId}/`, { key: owner.key, method: "PATCH", body: { name: "Listed org" } })
    ).body.change_request_id;
    await decide(a1, upd, "approve");
    const list = (query: string, who: Tenant = owner, project = p) => call(`${changeRequestsPath(project)}${query}`, { key: who.key });
    const all = await list("");
    // The project's own requests and the organization-level ones, newest first.
    expect(all.body.results.map((r: any) => r.id)).toEqual([upd, del]);
    expect((await list("?state=pending")).body.results.map((r: any) => r.id)).toEqual([del]);
    expect((await list("?state=pending,applied")).body.count).toBe(2);
    expect((await list("?state=pending&state=applied")).body.count).toBe(2);
    expect((await list("?state=nope")).body).toMatchObject({ attr: "state" });
    expect((await list("?action_key=organization.update")).body.results.map((r: any) => r.id)).toEqual([upd]);
    expect((await list(`?requester=${owner.userId}`)).body.count).toBe(2);
    expect((await list(`?requester=${a1.userId}`)).body.count).toBe(0);
    expect((await list("?resource_type=Project")).body.results.map((r: any) => r.id)).toEqual([del]);
    expect((await list(`?resource_id=${p}`)).body.results.map((r: any) => r.id)).toEqual([del]);
    const paged = await list("?limit=1");
    expect(paged.body.next).toContain("offset=1");
    const asApprover = (await list("?state=pending", a1)).body.results[0];
    expect(asApprover).toMatchObject({ can_approve: true, can_cancel: false, is_requester: false, user_decision: null });
    const asRequester = (await list("?state=pending")).body.results[0];
    expect(asRequester).toMatchObject({ can_approve: false, can_cancel: true, is_requester: true });
    expect((await list("?state=pending", a2)).body.results[0].can_approve).toBe(false);
    // Another project of the organization sees the organization-level request, not the project's.
    expect((await list("", owner, owner.projectId)).body.results.map((r: any) => r.id)).toEqual([upd]);
    expect((await call(`${changeRequestsPath(owner.projectId)}${del}/`, { key: owner.key })).status).toBe(404);
  });

  it("guards access: no key 401, wrong scope 403, other organization 404, both path names", async () => {
    const { owner, a1 } = await team();
    await createPolicy(owner, {
      action_key: "project.delete",
      organization_wide: true,
      approver_config: { users: [a1.userId], quorum: 1 },
    });
    const p = await newProject(owner, "Guarded");
    const id = (await call(`/api/projects/${p}/`, { key: owner.key, method: "DELETE" })).body.change_request_id;
    const base = `/api/environments/${p}/change_requests/${id}`;
    expect((await call(base)).status).toBe(401);
    const readOnly = await keyWithScopes(root, ["approvals:read"]);
    expect((await call(`${base}/`, { key: readOnly })).status).toBe(200);
    const denied = await call(`${base}/approve/`, { key: readOnly, method: "POST" });
    expect(denied.status).toBe(403);
    expect(denied.body.detail).toBe("API key missing required scope 'approvals:write'");
    const stranger = await signupStranger(owner);
    expect((await call(`${base}/`, { key: stranger.key })).status).toBe(404);
    expect((await call(`${base}/approve/`, { key: stranger.key, method: "POST" })).status).toBe(404);
    expect((await call(`/api/environments/${p}/change_requests/not-an-id/approve/`, { key: a1.key, method: "POST" })).status).toBe(404);
    expect((await call(`${base}/approve`, { key: a1.key, method: "POST", body: { reason: 5 } })).body.attr).toBe("reason");
    expect((await call(`${base}/approve`, { key: a1.key, method: "POST" })).body.status).toBe("applied");
  });

  it("adopts the D1 mirror when the object restarts after a step reached D1 but not its own storage", async () => {
    const { owner, a1, a2 } = await team();
    await createPolicy(owner, {
      action_key: "project.delete",
      organization_wide: true,
      approver_config: { users: [a1.userId, a2.userId], quorum: 2 },
    });
    const p = await newProject(owner, "Crashy");
    const id = (await call(`/api/projects/${p}/`, { key: owner.key, method: "DELETE" })).body.change_request_id;
    await decide(on(a1, p), id, "approve");
    const { runInDurableObject, evictDurableObject } = await import("cloudflare:test");
    const stub = env.CHANGE_REQUESTS.get(env.CHANGE_REQUESTS.idFromName(id));
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("DELETE FROM votes");
    });
    await evictDurableObject(stub);
    expect((await decide(on(a1, p), id, "approve")).body.code).toBe("already_voted");
    expect((await decide(on(a2, p), id, "approve")).body.status).toBe("applied");
  });
});

describe("a change request whose apply deletes its own row", () => {
  it("is never expired afterwards, even when its object died right after the apply", async () => {
    const { owner, a1 } = await team();
    await createPolicy(owner, {
      action_key: "project.delete",
      organization_wide: true,
      approver_config: { users: [a1.userId], quorum: 1 },
    });
    const p = await newProject(owner, "Self-deleting");
    const id = (await call(`/api/projects/${p}/`, { key: owner.key, method: "DELETE" })).body.change_request_id;
    const { runInDurableObject, runDurableObjectAlarm, evictDurableObject } = await import("cloudflare:test");
    const stub = env.CHANGE_REQUESTS.get(env.CHANGE_REQUESTS.idFromName(id));
    const queue = captureQueue();
    try {
      // The object dies between the apply's D1 batch (which deletes the project, and with it the
      // request's mirror row) and its own storage.
      await runInDurableObject(stub, (instance) => {
        Object.assign(instance, {
          persist: () => {
            throw new Error("the object died");
          },
        });
      });
      expect((await decide(on(a1, p), id, "approve")).status).toBe(500);
      expect((await call(`/api/projects/${p}/`, { key: owner.key })).status).toBe(404);
      expect(await mirrorRow(id)).toBeNull();
      const steps = (await activityRows({ scope: "ChangeRequest" })).filter((r) => r.item_id === id).map((r) => r.activity);
      expect(steps).toEqual(["created", "approved", "applied"]);
      // The apply's events were in its batch's outbox row: they are not lost with the object.
      await vi.waitFor(() =>
        expect(queue.queued.flatMap((m) => (m.kind === "event" ? [m.event.id] : []))).toEqual(
          expect.arrayContaining([`${id}:change_request_approved:${a1.userId}`, `${id}:change_request_applied`]),
        ),
      );

      // It comes back with its request still pending in its own storage and the expiry alarm set.
      await evictDurableObject(stub);
      const stored = await runInDurableObject(stub, async (_instance, state) => ({
        record: state.storage.sql.exec<{ record: string }>("SELECT record FROM change_request").toArray()[0]?.record,
        alarm: await state.storage.getAlarm(),
      }));
      expect(JSON.parse(stored.record!).state).toBe("pending");
      expect(stored.alarm).not.toBeNull();
      queue.take();
      await runDurableObjectAlarm(stub);

      // No `expired` for an applied change: no activity row, no event; the object forgot the request.
      const after = (await activityRows({ scope: "ChangeRequest" })).filter((r) => r.item_id === id).map((r) => r.activity);
      expect(after).toEqual(["created", "approved", "applied"]);
      const outbox = await env.DB.prepare("SELECT events FROM notification_outbox").all<{ events: string }>();
      expect(outbox.results.flatMap((r) => JSON.parse(r.events)).filter((e: { id: string }) => e.id.startsWith(id))).toEqual(
        expect.not.arrayContaining([expect.objectContaining({ type: "change_request_expired" })]),
      );
      expect(queue.queued.flatMap((m) => (m.kind === "event" ? [m.event.type] : []))).not.toContain("change_request_expired");
      const left = await runInDurableObject(stub, async (_instance, state) => ({
        rows: state.storage.sql.exec("SELECT * FROM change_request").toArray().length,
        alarm: await state.storage.getAlarm(),
      }));
      expect(left).toEqual({ rows: 0, alarm: null });
      expect((await decide(on(a1, p), id, "approve")).status).toBe(404);
    } finally {
      queue.restore();
    }
  });
});

/** A user of another organization only. */
async function signupStranger(owner: Tenant) {
  const stranger = await addMember(owner, 1);
  const theirs = await otherOrganization(stranger);
  await call(`/api/organizations/${owner.organizationId}/members/${stranger.userUuid}/`, { key: stranger.key, method: "DELETE" });
  return { ...stranger, ...theirs };
}
