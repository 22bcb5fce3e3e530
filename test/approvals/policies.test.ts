import { beforeAll, describe, expect, it } from "vitest";
import { activityRows, addMember, call, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";
import { createPolicy, policiesPath } from "./approvals-helpers";

let owner: Tenant;
let admin: Tenant;
let member: Tenant;
let roleId: string;
let other: { organizationId: string; projectId: number };

beforeAll(async () => {
  owner = await signupFirstUser();
  admin = await addMember(owner, 8);
  member = await addMember(owner, 1);
  const role = await call(`/api/organizations/${owner.organizationId}/roles/`, { key: owner.key, body: { name: "Reviewers" } });
  roleId = role.body.id;
  await call(`/api/organizations/${owner.organizationId}/roles/${roleId}/role_memberships/`, {
    key: owner.key,
    body: { user_uuid: member.userUuid },
  });
  other = await otherOrganization(owner);
});

describe("approval policies", () => {
  it("creates a policy with PostHog's defaults and records its activity", async () => {
    const res = await call(policiesPath(owner.projectId), {
      key: admin.key,
      body: { action_key: "project.delete", approver_config: { users: [owner.userId], quorum: 1 } },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      action_key: "project.delete",
      conditions: {},
      approver_config: { users: [owner.userId], roles: [], quorum: 1 },
      allow_self_approve: false,
      bypass_org_membership_levels: [],
      bypass_roles: [],
      expires_after: "14 00:00:00",
      enabled: true,
      organization_wide: false,
      created_by: { id: admin.userId, email: expect.any(String) },
    });
    expect(res.body.created_at).toMatch(/Z$/);
    const rows = await activityRows({ scope: "ApprovalPolicy", activity: "created" });
    expect(rows.at(-1)).toMatchObject({ item_id: res.body.id, user_id: admin.userId, team_id: owner.projectId });
    expect(rows.at(-1)?.detail.changes[0].after.action_key).toBe("project.delete");
  });

  it("reads, patches, replaces and deletes, through both path names", async () => {
    const policy = await createPolicy(owner, {
      action_key: "approval_policy.delete",
      approver_config: { roles: [roleId], quorum: 1 },
      conditions: { type: "any_change", field: "enabled" },
      expires_after: "P7D",
      bypass_org_membership_levels: ["15", 8],
      bypass_roles: [roleId],
    });
    expect(policy).toMatchObject({ expires_after: "7 00:00:00", bypass_org_membership_levels: [8, 15], bypass_roles: [roleId] });
    const url = `/api/projects/${owner.projectId}/approval_policies/${policy.id}`;
    expect((await call(url, { key: member.key })).body.id).toBe(policy.id);
    const patched = await call(`${url}/`, { key: owner.key, method: "PATCH", body: { expires_after: "01:30:00", enabled: false } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ expires_after: "01:30:00", enabled: false, approver_config: { roles: [roleId] } });
    const replaced = await call(url, {
      key: owner.key,
      method: "PUT",
      body: { action_key: "approval_policy.delete", approver_config: { users: [admin.userId], quorum: 1 }, conditions: null },
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({
      conditions: {},
      approver_config: { users: [admin.userId], roles: [] },
      expires_after: "01:30:00",
    });
    const updated = await activityRows({ scope: "ApprovalPolicy", activity: "updated" });
    expect(updated.filter((r) => r.item_id === policy.id)).toHaveLength(2);
    expect(updated.at(-1)?.detail.changes.map((c: any) => c.field)).toEqual(expect.arrayContaining(["approver_config", "conditions"]));
    expect((await call(url, { key: owner.key, method: "DELETE" })).status).toBe(204);
    expect((await call(url, { key: owner.key })).status).toBe(404);
    expect((await activityRows({ scope: "ApprovalPolicy", activity: "deleted" })).at(-1)?.item_id).toBe(policy.id);
  });

  it("lists the project's and the organization-wide policies with filters and pagination", async () => {
    await createPolicy(owner, { action_key: "organization.update", approver_config: { users: [admin.userId], quorum: 1 }, enabled: false });
    const list = await call(`${policiesPath(owner.projectId)}?limit=1`, { key: member.key });
    expect(list.status).toBe(200);
    expect(list.body.results).toHaveLength(1);
    expect(list.body.count).toBeGreaterThanOrEqual(2);
    expect(list.body.next).toContain("offset=1");
    const orgWide = await call(`${policiesPath(owner.projectId)}?action_key=organization.update`, { key: member.key });
    expect(orgWide.body.results).toHaveLength(1);
    // Organization-level actions are always organization-wide.
    expect(orgWide.body.results[0].organization_wide).toBe(true);
    const disabled = await call(`${policiesPath(owner.projectId)}?enabled=false`, { key: member.key });
    expect(disabled.body.results.map((p: any) => p.action_key)).toEqual(["organization.update"]);
    expect((await call(`${policiesPath(owner.projectId)}?enabled=maybe`, { key: member.key })).body.attr).toBe("enabled");
  });

  it("shows organization-wide policies in every project, and a project's own only in it", async () => {
    const second = await call("/api/projects/", { key: owner.key, body: { name: "Second", organization: owner.organizationId } });
    const wide = await createPolicy(owner, {
      action_key: "app.deploy",
      organization_wide: true,
      approver_config: { users: [admin.userId], quorum: 1 },
    });
    const own = await createPolicy(owner, { action_key: "app.rollback", approver_config: { users: [admin.userId], quorum: 1 } });
    const inSecond = await call(policiesPath(second.body.id), { key: owner.key });
    const ids = inSecond.body.results.map((p: any) => p.id);
    expect(ids).toContain(wide.id);
    expect(ids).not.toContain(own.id);
    expect((await call(`${policiesPath(second.body.id)}${own.id}/`, { key: owner.key })).status).toBe(404);
    // The same action may have an organization-wide policy and a project's own.
    const override = await call(policiesPath(owner.projectId), {
      key: owner.key,
      body: { action_key: "app.deploy", approver_config: { users: [owner.userId], quorum: 1 } },
    });
    expect(override.status).toBe(201);
  });

  it("validates every field with PostHog's 400 envelope", async () => {
    const post = (body: Record<string, unknown>) => call(policiesPath(owner.projectId), { key: owner.key, body });
    const approvers = { users: [admin.userId], quorum: 1 };
    const unknownKey = await post({ action_key: "flag.explode", approver_config: approvers });
    expect(unknownKey.status).toBe(400);
    expect(unknownKey.body).toMatchObject({ type: "validation_error", code: "invalid_choice", attr: "action_key" });
    expect(unknownKey.body.detail).toContain("project.delete");
    expect(unknownKey.body.detail).toContain("organization_member.update");
    expect((await post({ action_key: "project.delete" })).body).toMatchObject({ attr: "approver_config", code: "required" });
    expect((await post({ action_key: "project.delete", approver_config: { users: [admin.userId], quorum: 0 } })).body).toMatchObject({
      attr: "approver_config__quorum",
      detail: "Quorum must be at least 1",
    });
    const tooMany = await post({ action_key: "project.delete", approver_config: { users: [admin.userId], roles: [roleId], quorum: 3 } });
    expect(tooMany.body).toMatchObject({
      attr: "approver_config",
      detail: "Quorum (3) is larger than the number of possible approvers (2).",
    });
    const stranger = await post({ action_key: "project.delete", approver_config: { users: [999999], quorum: 1 } });
    expect(stranger.body).toMatchObject({ attr: "approver_config" });
    expect(stranger.body.detail).toContain("999999");
    const otherRole = await call(`/api/organizations/${other.organizationId}/roles/`, { key: owner.key, body: { name: "Elsewhere" } });
    expect((await post({ action_key: "project.delete", approver_config: { roles: [otherRole.body.id], quorum: 1 } })).body.attr).toBe(
      "approver_config",
    );
    expect((await post({ action_key: "project.delete", approver_config: approvers, bypass_roles: [otherRole.body.id] })).body.attr).toBe(
      "bypass_roles",
    );
    expect((await post({ action_key: "project.delete", approver_config: approvers, bypass_org_membership_levels: [3] })).body.attr).toBe(
      "bypass_org_membership_levels__0",
    );
    for (const expires_after of ["soon", "0", "-1 00:00:00", "400 00:00:00"]) {
      expect((await post({ action_key: "project.delete", approver_config: approvers, expires_after })).body.attr).toBe("expires_after");
    }
    expect((await post({ action_key: "project.delete", approver_config: approvers, conditions: { type: "vibes" } })).body.attr).toBe(
      "conditions__type",
    );
    expect(
      (await post({ action_key: "project.delete", approver_config: approvers, conditions: { type: "any_change" } })).body.attr,
    ).toMatch(/^conditions/);
    expect((await post({ action_key: "organization.delete", approver_config: approvers, organization_wide: false })).body.attr).toBe(
      "organization_wide",
    );
    expect((await post({ action_key: "project.delete", approver_config: approvers, colour: "red" })).status).toBe(400);
    expect((await call(policiesPath(owner.projectId), { key: owner.key, raw: "{nope" })).status).toBe(400);
  });

  it("allows one policy per project and action (400 on duplicates, even when simultaneous)", async () => {
    const body = { action_key: "app.duplicate", approver_config: { users: [admin.userId], quorum: 1 } };
    const results = await Promise.all([1, 2, 3].map(() => call(policiesPath(owner.projectId), { key: owner.key, body })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 400, 400]);
    expect(results.find((r) => r.status === 400)?.body).toMatchObject({ attr: "action_key", code: "unique" });
    const rows = await call(`${policiesPath(owner.projectId)}?action_key=app.duplicate`, { key: owner.key });
    expect(rows.body.count).toBe(1);
    const second = await createPolicy(owner, { ...body, action_key: "app.duplicate2" });
    const clash = await call(`${policiesPath(owner.projectId)}${second.id}/`, {
      key: owner.key,
      method: "PATCH",
      body: { action_key: "app.duplicate" },
    });
    expect(clash.body).toMatchObject({ attr: "action_key", code: "unique" });
  });

  it("guards access: no key 401, wrong scope 403, members cannot write, other organization 404", async () => {
    const body = { action_key: "project.delete", approver_config: { users: [admin.userId], quorum: 1 } };
    expect((await call(policiesPath(owner.projectId))).status).toBe(401);
    const readOnly = await keyWithScopes(owner, ["approvals:read"]);
    expect((await call(policiesPath(owner.projectId), { key: readOnly })).status).toBe(200);
    const denied = await call(policiesPath(owner.projectId), { key: readOnly, body });
    expect(denied.status).toBe(403);
    expect(denied.body.detail).toBe("API key missing required scope 'approvals:write'");
    const noScope = await keyWithScopes(owner, ["project:read"]);
    expect((await call(policiesPath(owner.projectId), { key: noScope })).body.detail).toBe(
      "API key missing required scope 'approvals:read'",
    );
    const asMember = await call(policiesPath(owner.projectId), { key: member.key, body });
    expect(asMember.status).toBe(403);
    const outsider = await addMember(owner, 1);
    const theirs = await otherOrganization(outsider);
    expect((await call(policiesPath(theirs.projectId), { key: owner.key })).status).toBe(404);
    expect((await call(policiesPath(theirs.projectId), { key: owner.key, body })).status).toBe(404);
  });
});
