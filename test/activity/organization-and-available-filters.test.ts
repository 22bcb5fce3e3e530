import { beforeAll, describe, expect, it } from "vitest";
import { activityRows, addMember, call, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";
import { allPages, flagChange, ingest } from "./activity-helpers";

let owner: Tenant;
let admin: Tenant;
let member: Tenant;
let secondProject: number;
let orgPath: string;

beforeAll(async () => {
  owner = await signupFirstUser();
  admin = await addMember(owner, 8);
  member = await addMember(owner, 1);
  const project = await call("/api/projects/", { key: owner.key, body: { name: "Second", organization: owner.organizationId } });
  secondProject = project.body.id;
  orgPath = `/api/organizations/${owner.organizationId}/advanced_activity_logs/`;
  await ingest(
    owner,
    [{ scope: "FeatureFlag", activity: "updated", item_id: "f1", detail: { name: "flag", changes: [flagChange("active", false, true)] } }],
    {
      "X-PostHog-Client": "sdk",
    },
  );
  await ingest(
    owner,
    [{ scope: "Survey", activity: "created", item_id: "s1", user: member.userId, detail: { name: "nps", context: { questions: 3 } } }],
    {},
    secondProject,
  );
});

const newest = (rows: Record<string, any>[]) =>
  [...rows].sort((a, b) => b.created_at - a.created_at || (b.id < a.id ? -1 : 1)).map((r) => r.id);

describe("GET /api/organizations/:id/advanced_activity_logs/", () => {
  it("spans every project of the organization and its organization-level rows", async () => {
    const expected = newest((await activityRows()).filter((r) => r.organization_id === owner.organizationId));
    const rows = await allPages(`${orgPath}?page_size=4`, owner.key);
    expect(rows.map((r) => r.id)).toEqual(expected);
    expect(rows.some((r) => r.team_id === null)).toBe(true);
    expect(new Set(rows.map((r) => r.team_id))).toEqual(new Set([null, owner.projectId, secondProject]));
  });

  it("narrows to team_ids (no organization-level rows) and keeps the other filters", async () => {
    const rows = await allPages(`${orgPath}?team_ids=${secondProject}`, owner.key);
    const expected = newest((await activityRows()).filter((r) => r.team_id === secondProject));
    expect(rows.map((r) => r.id)).toEqual(expected);
    const two = await allPages(
      `${orgPath}?team_ids=${encodeURIComponent(JSON.stringify([owner.projectId, secondProject]))}&scopes=Survey,FeatureFlag`,
      owner.key,
    );
    expect(two.map((r) => r.item_id).sort()).toEqual(["f1", "s1"]);
    const count = await call(`${orgPath}?team_ids=${owner.projectId},${secondProject}&page=1&page_size=1`, { key: owner.key });
    expect(count.body.count).toBe(
      (await activityRows()).filter((r) => r.team_id === owner.projectId || r.team_id === secondProject).length,
    );
    const foreign = await otherOrganization(owner);
    await ingest(owner, [{ scope: "FeatureFlag", activity: "created", item_id: "x1" }], {}, foreign.projectId);
    expect((await call(`${orgPath}?team_ids=${foreign.projectId}`, { key: owner.key })).body.results).toEqual([]);
    const mixed = await allPages(`${orgPath}?team_ids=${foreign.projectId},${secondProject}`, owner.key);
    expect(mixed.map((r) => r.id)).toEqual(expected);
    expect((await call(`${orgPath}?team_ids=${foreign.projectId}&page=1`, { key: owner.key })).body.count).toBe(0);
  });

  it("is for admins and owners only", async () => {
    expect((await call(orgPath, { key: admin.key })).status).toBe(200);
    const denied = await call(orgPath, { key: member.key });
    expect(denied.status).toBe(403);
    expect(denied.body.code).toBe("permission_denied");
    expect((await call(`${orgPath}available_filters/`, { key: member.key })).status).toBe(403);
    expect((await call(`${orgPath}export/`, { key: member.key, body: { format: "csv" } })).status).toBe(403);
  });

  it("hides other organizations and checks the key", async () => {
    const foreign = await otherOrganization(owner);
    expect((await call(`/api/organizations/${foreign.organizationId}/advanced_activity_logs/`, { key: admin.key })).status).toBe(404);
    expect((await call(orgPath)).status).toBe(401);
    const wrongScope = await keyWithScopes(owner, ["organization:read"]);
    expect((await call(orgPath, { key: wrongScope })).status).toBe(403);
  });

  it("refuses a key scoped to projects: organization endpoints are out of its reach (as PostHog)", async () => {
    const scoped = await keyWithScopes(owner, ["activity_log:read"], { scoped_teams: [secondProject] });
    const res = await call(orgPath, { key: scoped });
    expect(res.status).toBe(403);
    expect(res.body.detail).toBe("API keys with scoped projects are only supported on project-based views.");
  });
});

describe("available_filters", () => {
  it("lists the project's users, scopes, activities, clients and detail fields with their types", async () => {
    const res = await call(`/api/projects/${owner.projectId}/advanced_activity_logs/available_filters/`, { key: member.key });
    expect(res.status).toBe(200);
    const { static_filters, detail_fields } = res.body;
    expect(static_filters.users).toContainEqual({ value: owner.userUuid, label: "Olive Owner" });
    expect(static_filters.users.map((u: any) => u.value)).not.toContain(member.userUuid);
    expect(static_filters.scopes.map((s: any) => s.value)).toContain("FeatureFlag");
    expect(static_filters.scopes.map((s: any) => s.value)).not.toContain("Survey");
    expect(static_filters.activities.map((s: any) => s.value)).toContain("updated");
    expect(static_filters.clients).toEqual([{ value: "sdk" }]);
    const flagFields = Object.fromEntries(detail_fields.FeatureFlag.fields.map((f: any) => [f.name, f.types]));
    expect(flagFields).toMatchObject({
      name: ["string"],
      changes: ["array"],
      "changes[]": ["object"],
      "changes[].field": ["string"],
      "changes[].before": ["boolean"],
      "changes[].after": ["boolean"],
    });
    expect(detail_fields.General.fields.map((f: any) => f.name)).toEqual([
      "changes[].type",
      "changes[].action",
      "changes[].field",
      "changes[].before",
      "changes[].after",
    ]);
  });

  it("picks up new rows at once and merges types", async () => {
    await ingest(
      owner,
      [{ scope: "FeatureFlag", activity: "deleted", item_id: "f2", detail: { name: "old", context: { rollout: "50%" } } }],
      { "X-PostHog-Client": "mcp" },
    );
    await ingest(owner, [{ scope: "FeatureFlag", activity: "updated", item_id: "f2", detail: { context: { rollout: 50 } } }]);
    const res = await call(`/api/projects/${owner.projectId}/advanced_activity_logs/available_filters/`, { key: owner.key });
    const flagFields = Object.fromEntries(res.body.detail_fields.FeatureFlag.fields.map((f: any) => [f.name, f.types]));
    expect(flagFields["context.rollout"]).toEqual(["number", "string"]);
    expect(res.body.static_filters.activities.map((a: any) => a.value)).toContain("deleted");
    expect(res.body.static_filters.clients).toEqual([{ value: "mcp" }, { value: "sdk" }]);
  });

  it("spans the organization for admins, and can skip detail fields", async () => {
    const res = await call(`${orgPath}available_filters/?include_detail_fields=false`, { key: admin.key });
    expect(res.status).toBe(200);
    expect(res.body).not.toHaveProperty("detail_fields");
    expect(res.body.static_filters.scopes.map((s: any) => s.value)).toEqual(
      expect.arrayContaining(["FeatureFlag", "Survey", "OrganizationMembership"]),
    );
    expect(res.body.static_filters.users.map((u: any) => u.value)).toEqual(expect.arrayContaining([owner.userUuid, member.userUuid]));
    const full = await call(`${orgPath}available_filters/`, { key: admin.key });
    expect(full.body.detail_fields.Survey.fields).toContainEqual({ name: "context.questions", types: ["number"] });
  });

  it("checks access like the list", async () => {
    const foreign = await otherOrganization(owner);
    expect((await call(`/api/projects/${foreign.projectId}/advanced_activity_logs/available_filters/`, { key: member.key })).status).toBe(
      404,
    );
    expect((await call(`/api/projects/${owner.projectId}/advanced_activity_logs/available_filters/`)).status).toBe(401);
  });
});
