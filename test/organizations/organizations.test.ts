import { beforeAll, describe, expect, it } from "vitest";
import { activityRows, addMember, call, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";

let owner: Tenant;
beforeAll(async () => {
  owner = await signupFirstUser();
});

describe("organizations", () => {
  it("creates an organization with the caller as owner and a default project", async () => {
    const res = await call("/api/organizations/", { key: owner.key, body: { name: "Acme Corp", timezone: "Europe/Paris" } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: "Acme Corp",
      slug: "acme-corp",
      membership_level: 15,
      member_count: 1,
      timezone: "Europe/Paris",
      members_can_invite: true,
      is_active: true,
      default_experiment_stats_method: "bayesian",
      activity_log_retention_days: 365,
    });
    expect(res.body.projects).toHaveLength(1);
    expect(res.body.teams).toEqual(res.body.projects);
    const second = await call("/api/organizations/", { key: owner.key, body: { name: "Acme Corp" } });
    expect(second.body.slug).toBe("acme-corp-2");
    const rows = await activityRows({ scope: "Organization", activity: "created" });
    expect(rows.map((r) => r.organization_id)).toContain(res.body.id);
  });

  it("lists the caller's organizations with limit/offset", async () => {
    const page = await call("/api/organizations/?limit=1", { key: owner.key });
    expect(page.status).toBe(200);
    expect(page.body.count).toBe(3);
    expect(page.body.results).toHaveLength(1);
    expect(page.body.next).toBe("http://audit.test/api/organizations/?limit=1&offset=1");
    const last = await call("/api/organizations/?limit=1&offset=2", { key: owner.key });
    expect(last.body.next).toBeNull();
    expect(last.body.previous).toBe("http://audit.test/api/organizations/?limit=1&offset=1");
  });

  it("updates settings with a field-level diff in the activity row", async () => {
    const res = await call(`/api/organizations/${owner.organizationId}/`, {
      key: owner.key,
      method: "PATCH",
      body: { name: "Renamed", members_can_invite: false, activity_log_retention_days: 90 },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: "Renamed", members_can_invite: false, activity_log_retention_days: 90 });
    const [row] = await activityRows({ scope: "Organization", activity: "updated" });
    expect(row?.detail.changes).toEqual([
      { type: "Organization", action: "changed", field: "name", before: expect.any(String), after: "Renamed" },
      { type: "Organization", action: "changed", field: "members_can_invite", before: true, after: false },
      { type: "Organization", action: "changed", field: "activity_log_retention_days", before: 365, after: 90 },
    ]);
  });

  it("rejects unknown fields and bad values with the field named", async () => {
    const unknown = await call(`/api/organizations/${owner.organizationId}/`, { key: owner.key, method: "PATCH", body: { slug: "x" } });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ type: "validation_error", attr: "slug", detail: "Unknown field: slug." });
    const tz = await call(`/api/organizations/${owner.organizationId}/`, {
      key: owner.key,
      method: "PATCH",
      body: { timezone: "Mars/Olympus" },
    });
    expect(tz.body).toMatchObject({ attr: "timezone", detail: "Not a valid IANA time zone." });
    const empty = await call("/api/organizations/", { key: owner.key, body: { name: "" } });
    expect(empty.body.attr).toBe("name");
  });

  it("lets only admins update and only owners delete", async () => {
    const member = await addMember(owner, 1);
    const admin = await addMember(owner, 8);
    const path = `/api/organizations/${owner.organizationId}/`;
    expect((await call(path, { key: member.key, method: "PATCH", body: { name: "M" } })).status).toBe(403);
    expect((await call(path, { key: admin.key, method: "PATCH", body: { name: "A" } })).status).toBe(200);
    expect((await call(path, { key: admin.key, method: "DELETE" })).status).toBe(403);
    expect((await call(path, { key: member.key })).body.membership_level).toBe(1);
  });

  it("deletes an organization with its projects, keeping the audit trail", async () => {
    const created = await call("/api/organizations/", { key: owner.key, body: { name: "Doomed" } });
    const projectId = created.body.projects[0].id;
    expect((await call(`/api/organizations/${created.body.id}/`, { key: owner.key, method: "DELETE" })).status).toBe(204);
    expect((await call(`/api/organizations/${created.body.id}/`, { key: owner.key })).status).toBe(404);
    expect((await call(`/api/projects/${projectId}/`, { key: owner.key })).status).toBe(404);
    const rows = await activityRows({ scope: "Organization" });
    expect(rows.filter((r) => r.organization_id === created.body.id).map((r) => r.activity)).toEqual(["created", "deleted"]);
  });

  it("hides other organizations (404) and enforces scopes and key restrictions (403)", async () => {
    const stranger = await addMember(owner, 15);
    const other = await otherOrganization(stranger);
    expect((await call(`/api/organizations/${other.organizationId}/`, { key: owner.key })).status).toBe(404);
    expect(
      (await call(`/api/organizations/${other.organizationId}/`, { key: owner.key, method: "PATCH", body: { name: "x" } })).status,
    ).toBe(404);
    const readOnly = await keyWithScopes(owner, ["organization:read"]);
    const denied = await call("/api/organizations/", { key: readOnly, body: { name: "No" } });
    expect(denied.status).toBe(403);
    expect(denied.body).toEqual({
      type: "authentication_error",
      code: "permission_denied",
      detail: "API key missing required scope 'organization:write'",
      attr: null,
      request_id: expect.any(String),
    });
    const writeKey = await keyWithScopes(owner, ["organization:write"]);
    expect((await call(`/api/organizations/${owner.organizationId}/`, { key: writeKey })).status).toBe(200);
    const restricted = await keyWithScopes(stranger, ["*"], { scoped_organizations: [other.organizationId] });
    expect((await call(`/api/organizations/${owner.organizationId}/`, { key: restricted })).status).toBe(403);
    expect((await call(`/api/organizations/${other.organizationId}/`, { key: restricted })).status).toBe(200);
  });
});
