import { beforeAll, describe, expect, it } from "vitest";
import { activityRows, addMember, call, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";

let owner: Tenant;
beforeAll(async () => {
  owner = await signupFirstUser();
});

describe("projects", () => {
  it("creates a project in the caller's first organization by default", async () => {
    const res = await call("/api/projects/", { key: owner.key, body: { name: "Web", timezone: "America/New_York" } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: "Web",
      organization: owner.organizationId,
      timezone: "America/New_York",
      logs_retention_days: 30,
    });
    expect(res.body.id).toEqual(expect.any(Number));
    expect(res.body.api_token).toMatch(/^phc_[A-Za-z0-9]{43}$/);
    const [row] = (await activityRows({ scope: "Project", activity: "created" })).filter((r) => r.team_id === res.body.id);
    expect(row?.item_id).toBe(String(res.body.id));
  });

  it("lists, retrieves and updates, also through /api/environments/", async () => {
    const list = await call("/api/projects/", { key: owner.key });
    expect(list.body.count).toBe(2);
    const viaEnv = await call(`/api/environments/${owner.projectId}`, { key: owner.key });
    expect(viaEnv.status).toBe(200);
    expect(viaEnv.body.id).toBe(owner.projectId);
    const patched = await call(`/api/environments/${owner.projectId}/`, {
      key: owner.key,
      method: "PATCH",
      body: { name: "Renamed", logs_retention_days: 7 },
    });
    expect(patched.body).toMatchObject({ name: "Renamed", logs_retention_days: 7 });
    const bad = await call(`/api/projects/${owner.projectId}/`, { key: owner.key, method: "PATCH", body: { logs_retention_days: 0 } });
    expect(bad.body).toMatchObject({ type: "validation_error", attr: "logs_retention_days" });
  });

  it("rotates the ingestion token and masks it in the audit trail", async () => {
    const before = (await call(`/api/projects/${owner.projectId}/`, { key: owner.key })).body.api_token;
    const res = await call(`/api/projects/${owner.projectId}/reset_token/`, { key: owner.key, method: "POST" });
    expect(res.status).toBe(200);
    expect(res.body.api_token).not.toBe(before);
    const rows = await activityRows({ scope: "Project", activity: "updated" });
    const row = rows.find((r) => r.detail.changes[0].field === "api_token");
    expect(row?.detail.changes[0]).toMatchObject({ before: "masked", after: "masked" });
    expect(JSON.stringify(rows)).not.toContain(res.body.api_token);
  });

  it("deletes a project (admins only)", async () => {
    const member = await addMember(owner, 1);
    const created = (await call("/api/projects/", { key: owner.key, body: { name: "Temp" } })).body;
    expect((await call(`/api/projects/${created.id}/`, { key: member.key, method: "DELETE" })).status).toBe(403);
    expect((await call("/api/projects/", { key: member.key, body: { name: "Nope", organization: owner.organizationId } })).status).toBe(
      403,
    );
    expect((await call(`/api/projects/${created.id}/`, { key: owner.key, method: "DELETE" })).status).toBe(204);
    expect((await call(`/api/projects/${created.id}/`, { key: owner.key })).status).toBe(404);
  });

  it("guards access: no key, scope, scoped_teams, other organization", async () => {
    expect((await call(`/api/projects/${owner.projectId}/`)).status).toBe(401);
    const readOnly = await keyWithScopes(owner, ["project:read"]);
    expect((await call(`/api/projects/${owner.projectId}/`, { key: readOnly })).status).toBe(200);
    expect((await call(`/api/projects/${owner.projectId}/`, { key: readOnly, method: "PATCH", body: { name: "x" } })).status).toBe(403);
    const other = await call("/api/projects/", { key: owner.key, body: { name: "Other" } });
    const teamKey = await keyWithScopes(owner, ["*"], { scoped_teams: [owner.projectId] });
    expect((await call(`/api/projects/${other.body.id}/`, { key: teamKey })).status).toBe(403);
    expect((await call("/api/projects/", { key: teamKey })).body.count).toBe(1);
    const stranger = await addMember(owner, 15);
    const foreign = await otherOrganization(stranger);
    expect((await call(`/api/projects/${foreign.projectId}/`, { key: owner.key })).status).toBe(404);
    expect((await call("/api/projects/abc/", { key: owner.key })).status).toBe(404);
  });
});
