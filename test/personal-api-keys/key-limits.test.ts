import { beforeAll, describe, expect, it } from "vitest";
import { createPolicy, decide } from "../approvals/approvals-helpers";
import { addMember, call, otherOrganization, signupFirstUser, type Tenant } from "../helpers";

// A key creates or changes keys only within what it holds (issue 12, findings 1 to 3).

let owner: Tenant;
let other: { organizationId: string; projectId: number };
beforeAll(async () => {
  owner = await signupFirstUser();
  other = await otherOrganization(owner);
});

const keys = "/api/personal_api_keys/";

async function mint(scopes: string[], extra: Record<string, unknown> = {}, by = owner.key) {
  const res = await call(keys, { key: by, body: { label: "k", scopes, ...extra } });
  if (res.status !== 201) throw new Error(`key create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string; value: string };
}

const patch = (id: string, body: Record<string, unknown>, by: string) => call(`${keys}${id}/`, { key: by, method: "PATCH", body });

describe("keys never exceed their holder", () => {
  it("a key grants only scopes it holds; `*` only from `*`", async () => {
    const writer = await mint(["personal_api_key:write"]);
    const star = await call(keys, { key: writer.value, body: { label: "all", scopes: ["*"] } });
    expect(star.status).toBe(403);
    expect(star.body).toMatchObject({ type: "authentication_error", code: "permission_denied", attr: null });
    expect(star.body.detail).toContain("'*'");
    expect((await call(keys, { key: writer.value, body: { label: "logs", scopes: ["logs:read"] } })).status).toBe(403);
    // `:write` implies `:read`, so it may hand out either.
    expect((await call(keys, { key: writer.value, body: { label: "r", scopes: ["personal_api_key:read"] } })).status).toBe(201);
  });

  it("a key cannot PATCH itself (or another key) to more scopes than it holds", async () => {
    const writer = await mint(["personal_api_key:write", "user:read"]);
    const self = await patch(writer.id, { scopes: ["*"] }, writer.value);
    expect(self.status).toBe(403);
    const narrow = await mint(["user:read"]);
    expect((await patch(narrow.id, { scopes: ["organization:write"] }, writer.value)).status).toBe(403);
    expect((await call(`${keys}${writer.id}/`, { key: owner.key })).body.scopes).toEqual(["personal_api_key:write", "user:read"]);
    // Within its own scopes it may change keys, and it may rename a wider key without widening it.
    expect((await patch(narrow.id, { scopes: ["user:read", "personal_api_key:read"] }, writer.value)).status).toBe(200);
    const wide = await mint(["*"]);
    expect((await patch(wide.id, { label: "renamed" }, writer.value)).status).toBe(200);
    // Narrowing a wider key to what it holds itself is fine.
    expect((await patch(wide.id, { scopes: ["user:read"] }, writer.value)).status).toBe(200);
  });

  it("a project-restricted key cannot lift its restriction nor mint an unrestricted or organization-wide key", async () => {
    const scoped = await mint(["*"], { scoped_teams: [owner.projectId] });
    const lifted = await patch(scoped.id, { scoped_teams: null }, scoped.value);
    expect(lifted.status).toBe(403);
    expect((await patch(scoped.id, { scoped_teams: [owner.projectId, other.projectId] }, scoped.value)).status).toBe(403);
    expect((await call(`/api/projects/${other.projectId}/`, { key: scoped.value })).status).toBe(403);
    expect((await call(keys, { key: scoped.value, body: { label: "free", scopes: ["project:read"] } })).status).toBe(403);
    expect(
      (
        await call(keys, {
          key: scoped.value,
          body: { label: "org", scopes: ["project:read"], scoped_organizations: [owner.organizationId] },
        })
      ).status,
    ).toBe(403);
    expect(
      (await call(keys, { key: scoped.value, body: { label: "same", scopes: ["project:read"], scoped_teams: [owner.projectId] } })).status,
    ).toBe(201);
  });

  it("an organization-restricted key mints keys only inside its organizations", async () => {
    const scoped = await mint(["*"], { scoped_organizations: [owner.organizationId] });
    const create = (extra: Record<string, unknown>) =>
      call(keys, { key: scoped.value, body: { label: "x", scopes: ["project:read"], ...extra } });
    expect((await create({})).status).toBe(403);
    expect((await create({ scoped_organizations: [other.organizationId] })).status).toBe(403);
    expect((await create({ scoped_organizations: [owner.organizationId, other.organizationId] })).status).toBe(403);
    expect((await create({ scoped_teams: [other.projectId] })).status).toBe(403);
    expect((await create({ scoped_teams: [owner.projectId] })).status).toBe(201);
    expect((await create({ scoped_organizations: [owner.organizationId] })).status).toBe(201);
    expect((await patch(scoped.id, { scoped_organizations: [] }, scoped.value)).status).toBe(403);
  });

  it("widening a key to `*` by PATCH passes the personal_api_key.create gate, as creating one does", async () => {
    const approver = await addMember(owner, 1);
    await createPolicy(owner, {
      action_key: "personal_api_key.create",
      organization_wide: true,
      approver_config: { users: [approver.userId], quorum: 1 },
    });
    const narrow = await mint(["user:read"], { scoped_organizations: [owner.organizationId] });
    const gated = await patch(narrow.id, { scopes: ["*"] }, owner.key);
    expect(gated.status).toBe(409);
    expect(gated.body).toMatchObject({ code: "approval_required", resource_type: "PersonalAPIKey", resource_id: narrow.id });
    expect(gated.body.change_request.intent_display.description).toBe('Give personal API key "k" all scopes');
    expect((await call(`${keys}${narrow.id}/`, { key: owner.key })).body.scopes).toEqual(["user:read"]);
    expect((await call(`/api/projects/${owner.projectId}/`, { key: narrow.value })).status).toBe(403);
    // Renaming is not widening: no gate.
    expect((await patch(narrow.id, { label: "still narrow" }, owner.key)).status).toBe(200);

    const applied = await decide(approver, gated.body.change_request_id, "approve");
    // The rename changed nothing the request compared: the key's scopes and restrictions are as requested.
    expect(applied.body.status).toBe("applied");
    expect((await call(`${keys}${narrow.id}/`, { key: owner.key })).body.scopes).toEqual(["*"]);
    expect((await call(`/api/projects/${owner.projectId}/`, { key: narrow.value })).status).toBe(200);

    // A `*` key losing its restriction reaches further: gated too.
    const lift = await patch(narrow.id, { scoped_organizations: null }, owner.key);
    expect(lift.status).toBe(409);
  });
});
