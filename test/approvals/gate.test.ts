import { beforeAll, describe, expect, it } from "vitest";
import { activityRows, addMember, call, signupFirstUser, type Tenant } from "../helpers";
import { createPolicy, disablePolicy } from "./approvals-helpers";

let root: Tenant;

beforeAll(async () => {
  root = await signupFirstUser();
});

/** A fresh organization (owned by root's user) with an admin approver, a second admin and a member. */
async function team() {
  const org = await call("/api/organizations/", { key: root.key, body: { name: `Gate ${crypto.randomUUID().slice(0, 8)}` } });
  const owner: Tenant = { ...root, organizationId: org.body.id, projectId: org.body.projects[0].id };
  const approver = await addMember(owner, 8);
  const admin = await addMember(owner, 8);
  const member = await addMember(owner, 1);
  return { owner, approver, admin, member };
}

const renameOrg = (who: Tenant, name: string, extra: Record<string, unknown> = {}) =>
  call(`/api/organizations/${who.organizationId}/`, { key: who.key, method: "PATCH", body: { name, ...extra } });

describe("approval gate", () => {
  it("passes writes without a policy or with a disabled one", async () => {
    const { owner, approver } = await team();
    expect((await renameOrg(owner, "Free")).status).toBe(200);
    const policy = await createPolicy(owner, {
      action_key: "organization.update",
      approver_config: { users: [approver.userId], quorum: 1 },
    });
    await disablePolicy(owner, policy.id);
    const res = await renameOrg(owner, "Still free");
    expect(res.status).toBe(200);
    expect(res.body.name).toBe("Still free");
  });

  it("answers 409 approval_required with the new change request and does not write", async () => {
    const { owner, approver } = await team();
    await createPolicy(owner, { action_key: "organization.update", approver_config: { users: [approver.userId], quorum: 1 } });
    const before = (await activityRows({ scope: "Organization", activity: "updated" })).length;
    const res = await renameOrg(owner, "Renamed", { timezone: "Europe/Paris" });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({
      type: "invalid_request",
      code: "approval_required",
      detail: "A change request has been created and is pending approval.",
      attr: null,
      status: "approval_required",
      resource_type: "Organization",
      resource_id: owner.organizationId,
      required_approvers: { users: [approver.userId], roles: [], quorum: 1 },
    });
    const cr = res.body.change_request;
    expect(res.body.change_request_id).toBe(cr.id);
    expect(cr).toMatchObject({
      action_key: "organization.update",
      action_version: 1,
      state: "pending",
      validation_status: "valid",
      created_by: { id: owner.userId },
      applied_by: null,
      applied_at: null,
      apply_error: "",
      result_data: null,
      approvals: [],
      is_requester: true,
      can_approve: false,
      can_cancel: true,
      user_decision: null,
      intent: {
        current_state: { name: [{ path: "name", value: expect.any(String) }], timezone: [{ path: "timezone", value: "UTC" }] },
        gated_changes: { name: [{ path: "name", value: "Renamed" }], timezone: [{ path: "timezone", value: "Europe/Paris" }] },
        full_request_data: { name: "Renamed", timezone: "Europe/Paris" },
        preconditions: { updated_at: expect.stringMatching(/Z$/) },
      },
      intent_display: {
        description: expect.stringMatching(/^Update organization "Gate /),
        after: { name: "Renamed", timezone: "Europe/Paris" },
      },
      policy_snapshot: { quorum: 1, users: [approver.userId], roles: [], allow_self_approve: false, conditions: {} },
    });
    expect(Date.parse(cr.expires_at) - Date.parse(cr.created_at)).toBe(14 * 86400 * 1000);
    expect((await call(`/api/organizations/${owner.organizationId}/`, { key: owner.key })).body.name).not.toBe("Renamed");
    expect(await activityRows({ scope: "Organization", activity: "updated" })).toHaveLength(before);
    const created = (await activityRows({ scope: "ChangeRequest", activity: "created" })).at(-1);
    expect(created).toMatchObject({ item_id: cr.id, user_id: owner.userId, organization_id: owner.organizationId, team_id: null });

    const again = await renameOrg(owner, "Renamed again");
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: "change_request_pending", change_request_id: cr.id, resource_type: "Organization" });
    expect(again.body.existing_change_request.id).toBe(cr.id);
  });

  it("lets bypass levels and bypass roles through", async () => {
    const { owner, approver, admin } = await team();
    const role = await call(`/api/organizations/${owner.organizationId}/roles/`, { key: owner.key, body: { name: "Release managers" } });
    await call(`/api/organizations/${owner.organizationId}/roles/${role.body.id}/role_memberships/`, {
      key: owner.key,
      body: { user_uuid: admin.userUuid },
    });
    await createPolicy(owner, {
      action_key: "organization.update",
      approver_config: { users: [approver.userId], quorum: 1 },
      bypass_org_membership_levels: [15],
      bypass_roles: [role.body.id],
    });
    expect((await renameOrg(owner, "By the owner")).status).toBe(200);
    expect((await renameOrg(admin, "By a release manager")).status).toBe(200);
    const gated = await renameOrg(approver, "By an approver");
    expect(gated.status).toBe(409);
    // The requester is an approver but may not approve their own request.
    expect(gated.body.detail).toBe("A change request has been created and is pending approval from others.");
  });

  it("gates only the changes the conditions select", async () => {
    const { owner, approver, member } = await team();
    await createPolicy(owner, {
      action_key: "organization_member.update",
      approver_config: { users: [approver.userId], quorum: 1 },
      conditions: { type: "before_after", field: "level", operator: ">=", value: 8 },
    });
    const setLevel = (level: number) =>
      call(`/api/organizations/${owner.organizationId}/members/${member.userUuid}/`, { key: owner.key, method: "PATCH", body: { level } });
    const promote = await setLevel(15);
    expect(promote.status).toBe(409);
    expect(promote.body.change_request).toMatchObject({
      resource_type: "OrganizationMembership",
      resource_id: member.userUuid,
      intent_display: { before: { level: 1 }, after: { level: 15 } },
    });
    // Demoting an approver is not selected (after-value 1 < 8): it passes.
    const demote = await call(`/api/organizations/${owner.organizationId}/members/${approver.userUuid}/`, {
      key: owner.key,
      method: "PATCH",
      body: { level: 1 },
    });
    expect(demote.status).toBe(200);

    const { owner: owner2, approver: approver2 } = await team();
    await createPolicy(owner2, {
      action_key: "organization.update",
      approver_config: { users: [approver2.userId], quorum: 1 },
      conditions: { type: "any_change", field: "name" },
    });
    expect(
      (await call(`/api/organizations/${owner2.organizationId}/`, { key: owner2.key, method: "PATCH", body: { timezone: "Asia/Tokyo" } }))
        .status,
    ).toBe(200);
    expect((await renameOrg(owner2, "New name")).status).toBe(409);
  });

  it("uses a project's own policy over the organization-wide one", async () => {
    const { owner, approver, admin } = await team();
    const project = async (name: string) =>
      (await call("/api/projects/", { key: owner.key, body: { name, organization: owner.organizationId } })).body.id as number;
    const [strict, plain, lenient] = [await project("Strict"), await project("Plain"), await project("Lenient")];
    await createPolicy(owner, {
      action_key: "project.delete",
      organization_wide: true,
      approver_config: { users: [approver.userId], quorum: 1 },
    });
    await createPolicy(
      owner,
      { action_key: "project.delete", approver_config: { users: [approver.userId, admin.userId], quorum: 2 } },
      strict,
    );
    await createPolicy(
      owner,
      {
        action_key: "project.delete",
        approver_config: { users: [approver.userId], quorum: 1 },
        conditions: { type: "before_after", field: "name", operator: "==", value: "never" },
      },
      lenient,
    );
    const remove = (id: number) => call(`/api/projects/${id}/`, { key: owner.key, method: "DELETE" });
    expect((await remove(strict)).body.required_approvers.quorum).toBe(2);
    const viaOrg = await remove(plain);
    expect(viaOrg.body.required_approvers.quorum).toBe(1);
    expect(viaOrg.body.change_request).toMatchObject({
      resource_type: "Project",
      resource_id: String(plain),
      intent_display: { description: 'Delete project "Plain"' },
    });
    // The project's own policy does not select this change, and it wins: the delete goes through.
    expect((await remove(lenient)).status).toBe(204);
  });

  it("refuses a `*` key reaching two organizations with policies (policy_conflict) and gates a scoped one", async () => {
    const first = await team();
    const second = await team();
    for (const { owner, approver } of [first, second]) {
      await createPolicy(owner, { action_key: "personal_api_key.create", approver_config: { users: [approver.userId], quorum: 1 } });
    }
    const conflict = await call("/api/personal_api_keys/", { key: root.key, body: { label: "Everything", scopes: ["*"] } });
    expect(conflict.status).toBe(400);
    expect(conflict.body).toMatchObject({
      type: "validation_error",
      code: "policy_conflict",
      detail: "This change matches multiple approval policies",
      guidance: expect.stringContaining("Split your changes"),
    });
    expect(conflict.body.conflicting_policies).toHaveLength(2);
    const scoped = await call("/api/personal_api_keys/", {
      key: root.key,
      body: { label: "Scoped", scopes: ["*"], scoped_organizations: [first.owner.organizationId] },
    });
    expect(scoped.status).toBe(409);
    expect(scoped.body).toMatchObject({ code: "approval_required", resource_type: "PersonalAPIKey", resource_id: null });
    expect(scoped.body.pending_personal_api_key.value).toMatch(/^phx_/);
    expect(JSON.stringify(scoped.body.change_request)).not.toContain(scoped.body.pending_personal_api_key.value);
    // Not usable before approval.
    expect((await call("/api/users/@me/", { key: scoped.body.pending_personal_api_key.value })).status).toBe(401);
    // Keys without `*` are not gated.
    expect((await call("/api/personal_api_keys/", { key: root.key, body: { label: "Narrow", scopes: ["approvals:read"] } })).status).toBe(
      201,
    );
  });

  it("gates deletes of organizations and projects and changes to approval policies", async () => {
    const { owner, approver } = await team();
    const approvers = { users: [approver.userId], quorum: 1 };
    const guarded = await createPolicy(owner, { action_key: "app.anything", approver_config: approvers });
    for (const action_key of ["organization.delete", "approval_policy.update", "approval_policy.delete"]) {
      await createPolicy(owner, { action_key, approver_config: approvers });
    }
    const org = await call(`/api/organizations/${owner.organizationId}/`, { key: owner.key, method: "DELETE" });
    expect(org.body).toMatchObject({ code: "approval_required", resource_type: "Organization", resource_id: owner.organizationId });
    const policyUrl = `/api/projects/${owner.projectId}/approval_policies/${guarded.id}/`;
    const update = await call(policyUrl, { key: owner.key, method: "PATCH", body: { enabled: false } });
    expect(update.body).toMatchObject({ code: "approval_required", resource_type: "ApprovalPolicy", resource_id: guarded.id });
    expect(update.body.change_request.intent_display).toMatchObject({ before: { enabled: true }, after: { enabled: false } });
    const remove = await call(policyUrl, { key: owner.key, method: "DELETE" });
    expect(remove.body).toMatchObject({ code: "approval_required", resource_type: "ApprovalPolicy" });
    expect((await call(policyUrl, { key: owner.key })).body.enabled).toBe(true);
  });

  it("documents the 409 on every gated route", async () => {
    const schema = await call("/api/schema/");
    const paths = schema.body.paths;
    expect(paths["/api/organizations/{id}"].patch.responses["409"]).toBeDefined();
    expect(paths["/api/organizations/{id}"].delete.responses["409"]).toBeDefined();
    expect(paths["/api/organizations/{id}/members/{user_uuid}"].patch.responses["409"]).toBeDefined();
    expect(paths["/api/personal_api_keys"].post.responses["409"]).toBeDefined();
    expect(paths["/api/projects/{project_id}"].delete.responses["409"]).toBeDefined();
    expect(paths["/api/projects/{project_id}/approval_policies/{id}"].patch.responses["409"]).toBeDefined();
  });
});
