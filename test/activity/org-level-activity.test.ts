import { beforeAll, describe, expect, it } from "vitest";
import { addMember, call, signupFirstUser, type Tenant } from "../helpers";

// Seed 002: "Enable Include organization-level activity" adds the organization's events (member
// invited, joined, removed, level changed, roles, settings) to the project's activity log.
let owner: Tenant;
let member: Tenant;
beforeAll(async () => {
  owner = await signupFirstUser();
  member = await addMember(owner, 1);
  await call(`/api/organizations/${owner.organizationId}/roles/`, { key: owner.key, body: { name: "Auditors" } });
});

const ids = (res: { body: any }) => res.body.results.map((r: any) => r.id);

describe("receive_org_level_activity_logs", () => {
  it("is off by default: the project's logs carry only its own rows", async () => {
    const project = await call(`/api/projects/${owner.projectId}/`, { key: owner.key });
    expect(project.body.receive_org_level_activity_logs).toBe(false);
    for (const path of ["activity_log", "advanced_activity_logs"]) {
      const res = await call(`/api/projects/@current/${path}/`, { key: owner.key });
      expect(res.body.results.length).toBeGreaterThan(0);
      expect(
        res.body.results.every((r: any) => r.team_id === owner.projectId),
        path,
      ).toBe(true);
    }
  });

  it("when on, merges the organization-level rows in order into both lists and their filters", async () => {
    const patched = await call(`/api/projects/${owner.projectId}/`, {
      key: owner.key,
      method: "PATCH",
      body: { receive_org_level_activity_logs: true },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.receive_org_level_activity_logs).toBe(true);
    const organization = await call(`/api/organizations/${owner.organizationId}/advanced_activity_logs/?page_size=1000`, {
      key: owner.key,
    });
    const expected = organization.body.results.filter((r: any) => r.team_id === null || r.team_id === owner.projectId);
    expect(expected.some((r: any) => r.team_id === null && r.scope === "OrganizationMembership" && r.activity === "joined")).toBe(true);
    expect(expected.some((r: any) => r.team_id === null && r.scope === "Role")).toBe(true);
    for (const path of ["activity_log", "advanced_activity_logs"]) {
      const res = await call(`/api/projects/@current/${path}/?page_size=1000`, { key: member.key });
      expect(ids(res), path).toEqual(expected.map((r: any) => r.id));
    }
    const filtered = await call(`/api/projects/${owner.projectId}/advanced_activity_logs/?scopes=OrganizationInvite,Project&page=1`, {
      key: member.key,
    });
    expect(new Set(filtered.body.results.map((r: any) => r.scope))).toEqual(new Set(["OrganizationInvite", "Project"]));
    expect(filtered.body.count).toBe(expected.filter((r: any) => ["OrganizationInvite", "Project"].includes(r.scope)).length);
  });

  it("never brings another project's rows, and is refused to members", async () => {
    const other = (await call("/api/projects/", { key: owner.key, body: { name: "Other" } })).body.id;
    const res = await call(`/api/projects/${owner.projectId}/activity_log/?page_size=1000`, { key: owner.key });
    expect(res.body.results.some((r: any) => r.team_id === other)).toBe(false);
    const refused = await call(`/api/projects/${owner.projectId}/`, {
      key: member.key,
      method: "PATCH",
      body: { receive_org_level_activity_logs: false },
    });
    expect(refused.status).toBe(403);
  });
});
