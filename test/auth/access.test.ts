import { beforeAll, describe, expect, it } from "vitest";
import { call, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";

let owner: Tenant;
let other: { organizationId: string; projectId: number };
beforeAll(async () => {
  owner = await signupFirstUser();
  other = await otherOrganization(owner);
});

const ids = (res: { body: { results: { id: unknown }[] } }) => res.body.results.map((r) => r.id);

describe("restricted keys stay restricted", () => {
  it("a project-scoped key has no organization-level access (403, as PostHog)", async () => {
    const key = await keyWithScopes(owner, ["*"], { scoped_teams: [owner.projectId] });
    const org = `/api/organizations/${owner.organizationId}`;
    for (const path of ["/api/organizations/", `${org}/`, `${org}/members/`, `${org}/invites/`, `${org}/roles/`]) {
      const res = await call(path, { key });
      expect(res.status, path).toBe(403);
      expect(res.body).toMatchObject({ type: "authentication_error", code: "permission_denied" });
    }
    const invite = await call(`${org}/invites/`, { key, body: { target_email: "owner-to-be@example.com", level: 15 } });
    expect(invite.status).toBe(403);
    expect((await call("/api/organizations/", { key, body: { name: "Escape" } })).status).toBe(403);
    expect((await call("/api/projects/", { key, body: { name: "Escape", organization: owner.organizationId } })).status).toBe(403);
    // Its own project works.
    expect((await call(`/api/projects/${owner.projectId}/`, { key })).status).toBe(200);
  });

  it("lists show only what the key reaches", async () => {
    const teamKey = await keyWithScopes(owner, ["*"], { scoped_teams: [owner.projectId] });
    expect(ids(await call("/api/projects/", { key: teamKey }))).toEqual([owner.projectId]);
    expect((await call("/api/users/@me/", { key: teamKey })).body.organizations.map((o: any) => o.id)).toEqual([owner.organizationId]);

    const orgKey = await keyWithScopes(owner, ["*"], { scoped_organizations: [other.organizationId] });
    expect(ids(await call("/api/organizations/", { key: orgKey }))).toEqual([other.organizationId]);
    expect((await call("/api/organizations/", { key: orgKey })).body.count).toBe(1);
    expect(ids(await call("/api/projects/", { key: orgKey }))).toEqual([other.projectId]);
    expect((await call("/api/users/@me/", { key: orgKey })).body.organizations.map((o: any) => o.id)).toEqual([other.organizationId]);
    expect((await call(`/api/organizations/${owner.organizationId}/`, { key: orgKey })).status).toBe(403);
    // New organizations would lie outside its reach.
    expect((await call("/api/organizations/", { key: orgKey, body: { name: "Outside" } })).status).toBe(403);
    // Unrestricted keys see everything.
    expect(ids(await call("/api/organizations/", { key: owner.key })).sort()).toEqual([owner.organizationId, other.organizationId].sort());
  });
});

describe("strict ids", () => {
  it("resolves a numeric path id only from plain decimal digits", async () => {
    expect((await call(`/api/projects/${owner.projectId}/`, { key: owner.key })).status).toBe(200);
    const id = owner.projectId;
    for (const alias of [`0x${id.toString(16)}`, `${id}.0`, `%20${id}`, `${id}%20`, `0${id}`, `${id}e0`, `+${id}`]) {
      const res = await call(`/api/projects/${alias}/`, { key: owner.key });
      expect(res.status, alias).toBe(404);
      expect(res.body).toMatchObject({ type: "invalid_request", code: "not_found" });
      expect((await call(`/api/projects/${alias}/activity_log/`, { key: owner.key })).status, alias).toBe(404);
    }
  });

  it("resolves a UUID path id only in its canonical form", async () => {
    const org = owner.organizationId;
    expect((await call(`/api/organizations/${org}/`, { key: owner.key })).status).toBe(200);
    for (const alias of [org.toUpperCase(), `%20${org}`, `{${org}}`, org.replaceAll("-", "")]) {
      expect((await call(`/api/organizations/${alias}/`, { key: owner.key })).status, alias).toBe(404);
    }
  });
});
