import { beforeAll, describe, expect, it } from "vitest";
import { addMember, call, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";

// Seed 002: "GET /api/projects/@current/activity_log/" and ".../advanced_activity_logs/".
let owner: Tenant;
beforeAll(async () => {
  owner = await signupFirstUser();
});

describe("@current as the project id", () => {
  let other: { organizationId: string; projectId: number };
  let second: number;

  beforeAll(async () => {
    other = await otherOrganization(owner);
    second = (await call("/api/projects/", { key: owner.key, body: { name: "Second" } })).body.id;
  });

  it("answers the seed's two activity endpoints as the user's current project", async () => {
    for (const path of ["activity_log", "advanced_activity_logs"]) {
      const current = await call(`/api/projects/@current/${path}/`, { key: owner.key });
      expect(current.status, path).toBe(200);
      const explicit = await call(`/api/projects/${owner.projectId}/${path}/`, { key: owner.key });
      expect(current.body.results.map((r: any) => r.id)).toEqual(explicit.body.results.map((r: any) => r.id));
      expect(current.body.results.length).toBeGreaterThan(0);
    }
  });

  it("is the oldest project of the first organization joined, under both names", async () => {
    expect((await call("/api/projects/@current/", { key: owner.key })).body.id).toBe(owner.projectId);
    expect((await call("/api/environments/@current/", { key: owner.key })).body.id).toBe(owner.projectId);
  });

  it("is the key's project when the key is restricted to one", async () => {
    const scoped = await keyWithScopes(owner, ["*"], { scoped_teams: [second] });
    expect((await call("/api/projects/@current/", { key: scoped })).body.id).toBe(second);
    const otherOrg = await keyWithScopes(owner, ["*"], { scoped_organizations: [other.organizationId] });
    expect((await call("/api/environments/@current/", { key: otherOrg })).body.id).toBe(other.projectId);
  });

  it("is a 404 when the caller has no project", async () => {
    const member = await addMember(owner);
    expect(
      (await call(`/api/organizations/${owner.organizationId}/members/${member.userUuid}/`, { key: owner.key, method: "DELETE" })).status,
    ).toBe(204);
    const res = await call("/api/projects/@current/activity_log/", { key: member.key });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("not_found");
  });
});

describe("organization setting members_can_use_personal_api_keys", () => {
  it("refuses members' keys on the organization's resources when off, not admins'", async () => {
    const org = await otherOrganization(owner);
    const tenant = { ...owner, ...org };
    const member = await addMember(tenant, 1);
    const admin = await addMember(tenant, 8);
    const off = await call(`/api/organizations/${org.organizationId}/`, {
      key: owner.key,
      method: "PATCH",
      body: { members_can_use_personal_api_keys: false },
    });
    expect(off.status).toBe(200);
    for (const path of [
      `/api/projects/${org.projectId}/activity_log/`,
      `/api/organizations/${org.organizationId}/`,
      "/api/projects/@current/",
    ]) {
      const refused = await call(path, { key: member.key });
      expect(refused.status, path).toBe(403);
      expect(refused.body).toMatchObject({ type: "authentication_error", code: "permission_denied" });
      expect((await call(path, { key: admin.key })).status, path).toBe(200);
    }
    const feed = await call("/api/v2/activities/", { key: member.key });
    expect(feed.body.results).toEqual([]);
    await call(`/api/organizations/${org.organizationId}/`, {
      key: owner.key,
      method: "PATCH",
      body: { members_can_use_personal_api_keys: true },
    });
    expect((await call(`/api/projects/${org.projectId}/activity_log/`, { key: member.key })).status).toBe(200);
  });
});
