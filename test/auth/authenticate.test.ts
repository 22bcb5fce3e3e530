import { beforeAll, describe, expect, it } from "vitest";
import { addMember, call, otherOrganization, signupFirstUser, type Tenant } from "../helpers";

// Authentication reads the membership of the project or organization named in the path in the same
// query as the key: these checks pin that the read-ahead answers exactly as a separate lookup would.
describe("authenticate with access read ahead", () => {
  let owner: Tenant;
  let member: Tenant;
  let other: { organizationId: string; projectId: number };

  beforeAll(async () => {
    owner = await signupFirstUser();
    member = await addMember(owner);
    other = await otherOrganization(owner);
  });

  it("lets a member reach its project under both names and its organization", async () => {
    const project = await call(`/api/projects/${owner.projectId}/`, { key: member.key });
    expect(project.status).toBe(200);
    expect(project.body.id).toBe(owner.projectId);
    const environment = await call(`/api/environments/${owner.projectId}`, { key: member.key });
    expect(environment.body.id).toBe(owner.projectId);
    const organization = await call(`/api/organizations/${owner.organizationId}/`, { key: member.key });
    expect(organization.status).toBe(200);
    expect(organization.body.id).toBe(owner.organizationId);
  });

  it("answers 404 for projects and organizations the caller is not a member of, or that do not exist", async () => {
    for (const path of [
      `/api/projects/${other.projectId}/`,
      `/api/organizations/${other.organizationId}/`,
      "/api/projects/999999/",
      "/api/projects/not-a-number/",
      "/api/organizations/00000000-0000-0000-0000-000000000000/",
    ]) {
      const res = await call(path, { key: member.key });
      expect(res.status, path).toBe(404);
      expect(res.body.type).toBe("invalid_request");
    }
    // The owner of the other organization does reach it, with the same key lookup.
    expect((await call(`/api/projects/${other.projectId}/`, { key: owner.key })).status).toBe(200);
  });

  it("answers 404, never a 500, for an organization id that is not valid percent-encoding", async () => {
    const res = await call("/api/organizations/%E0%A4%A/", { key: owner.key });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("not_found");
  });

  it("still enforces the membership level on organization routes", async () => {
    const res = await call(`/api/organizations/${owner.organizationId}/`, { key: member.key, method: "PATCH", body: { name: "x" } });
    expect(res.status).toBe(403);
  });

  it("sees a removed membership and a deleted key on the very next request", async () => {
    const leaver = await addMember(owner);
    expect((await call(`/api/projects/${owner.projectId}/`, { key: leaver.key })).status).toBe(200);
    const removed = await call(`/api/organizations/${owner.organizationId}/members/${leaver.userUuid}/`, {
      key: owner.key,
      method: "DELETE",
    });
    expect(removed.status).toBe(204);
    expect((await call(`/api/projects/${owner.projectId}/`, { key: leaver.key })).status).toBe(404);

    const keys = await call("/api/personal_api_keys/", { key: member.key });
    const [key] = keys.body.results;
    expect((await call(`/api/personal_api_keys/${key.id}/`, { key: member.key, method: "DELETE" })).status).toBe(204);
    const after = await call(`/api/projects/${owner.projectId}/`, { key: member.key });
    expect(after.status).toBe(401);
    expect(after.body.code).toBe("authentication_failed");
  });
});
