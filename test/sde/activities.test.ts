import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { refreshSearchIndex } from "../../src/activity/search-index";
import { flagChange, ingest, seedActivity } from "../activity/activity-helpers";
import { activityRows, addMember, call, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";

let owner: Tenant;
let member: Tenant;
let payments: number;
const feed = "/api/v2/activities/";
const token = (key: string) => ({ key: null, headers: { authorization: `Token ${key}` } });

beforeAll(async () => {
  owner = await signupFirstUser();
  member = await addMember(owner, 1);
  await call(`/api/organizations/${owner.organizationId}/`, {
    key: owner.key,
    method: "PATCH",
    body: { timezone: "America/New_York", name: "Acme BU" },
  });
  const project = await call("/api/projects/", { key: owner.key, body: { name: "Payments", organization: owner.organizationId } });
  payments = project.body.id;
  await seedActivity(owner, [
    {
      scope: "FeatureFlag",
      activity: "updated",
      item_id: "12",
      created_at: "2025-01-10T15:00:00Z",
      detail: { name: "new-checkout-flow", changes: [flagChange("active", false, true)] },
    },
    {
      scope: "FeatureFlag",
      activity: "created",
      item_id: "13",
      user: member.userId,
      created_at: "2025-01-11T15:00:00Z",
      detail: { name: "beta" },
    },
  ]);
  await seedActivity(
    owner,
    [{ scope: "Invoice", activity: "deleted", item_id: "inv-9", created_at: "2025-01-12T15:00:00Z", detail: { name: "INV-9" } }],
    {},
    payments,
  );
  expect((await call(`/api/projects/${payments}/`, { key: owner.key, method: "DELETE" })).status).toBe(204);
});

const ids = (body: any) => body.results.map((r: any) => r.id);

describe("GET /api/v2/activities/ (SD Elements)", () => {
  it("answers with Token auth, newest first, in the SD Elements shape", async () => {
    const res = await call(`${feed}?application=${owner.projectId}`, token(owner.key));
    expect(res.status).toBe(200);
    const flag = res.body.results.find((r: any) => r.data.feature_flag === "12");
    expect(flag).toEqual({
      id: expect.any(Number),
      name: "UpdatedFeatureFlagActivity",
      actor: owner.userId,
      text: "Olive Owner updated feature flag new-checkout-flow",
      date: "2025-01-10T15:00:00.000Z",
      data: {
        business_unit: owner.organizationId,
        business_unit_desc: "Acme BU",
        application: owner.projectId,
        application_desc: "Default project",
        project: owner.projectId,
        project_desc: "Default project",
        feature_flag: "12",
        feature_flag_desc: "new-checkout-flow",
      },
      icon: "edit",
      log_level: "",
      // Seeded as the service's own rows, without a request behind them.
      recorded_by: null,
      // Sealed or not yet: the row's place in the organization's hash chain.
      sequence: flag.sequence === null ? null : expect.any(Number),
      hash: flag.sequence === null ? null : expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const created = res.body.results.find((r: any) => r.data.feature_flag === "13");
    expect(created).toMatchObject({ name: "CreatedFeatureFlagActivity", actor: member.userId, icon: "plus", log_level: "success" });
    const dates = res.body.results.map((r: any) => r.date);
    expect(dates).toEqual([...dates].sort().reverse());
  });

  it("filters by actor, id and name", async () => {
    const byActor = await call(`${feed}?actor=${member.userId}`, token(owner.key));
    expect(byActor.body.results.length).toBeGreaterThan(0);
    expect(byActor.body.results.every((r: any) => r.actor === member.userId)).toBe(true);
    const one = byActor.body.results[0];
    expect(ids((await call(`${feed}?id=${one.id}`, token(owner.key))).body)).toEqual([one.id]);
    const named = await call(`${feed}?name=UpdatedFeatureFlagActivity`, token(owner.key));
    expect(named.body.results.map((r: any) => r.data.feature_flag)).toEqual(["12"]);
    expect((await call(`${feed}?name=NoSuchActivity`, token(owner.key))).body.results).toEqual([]);
    expect((await call(`${feed}?actor=abc`, token(owner.key))).body.attr).toBe("actor");
  });

  it("filters by business unit, application and project, by id or by name, also after the project was deleted", async () => {
    // From here on the rows are in the item and search indexes (earlier tests read them unindexed).
    expect(await refreshSearchIndex(env.DB, 10_000)).toBeGreaterThan(0);
    const byBu = await call(`${feed}?business_unit=${owner.organizationId}&page=1`, token(owner.key));
    expect(byBu.body.count).toBe((await activityRows()).filter((r) => r.organization_id === owner.organizationId).length);
    expect((await call(`${feed}?business_unit_desc=Acme%20BU&page=1`, token(owner.key))).body.count).toBe(byBu.body.count);
    expect((await call(`${feed}?business_unit_desc=Nope`, token(owner.key))).body.results).toEqual([]);

    const deleted = await call(`${feed}?project_desc=Payments`, token(owner.key));
    expect(deleted.body.results.map((r: any) => r.data.invoice)).toContain("inv-9");
    expect(deleted.body.results.every((r: any) => r.data.project === payments && r.data.project_desc === "Payments")).toBe(true);
    expect(ids((await call(`${feed}?application_desc=Payments`, token(owner.key))).body)).toEqual(ids(deleted.body));
    expect(ids((await call(`${feed}?project=${payments}`, token(owner.key))).body)).toEqual(ids(deleted.body));
    expect((await call(`${feed}?project=${payments}&application=${owner.projectId}`, token(owner.key))).body.results).toEqual([]);
    const live = await call(`${feed}?project_desc=Default%20project`, token(owner.key));
    expect(live.body.results.every((r: any) => r.data.project === owner.projectId)).toBe(true);
  });

  it("filters by the user an activity is about (not the one who did it)", async () => {
    const res = await call(`${feed}?user=${member.userId}`, token(owner.key));
    expect(res.body.results.length).toBeGreaterThan(0);
    for (const row of res.body.results) {
      expect(row.data.user).toBe(member.userId);
      expect(row.name).toBe("JoinedOrganizationMembershipActivity");
      expect(row.icon).toBe("user");
    }
  });

  it("reads a date with a trailing Z as UTC and a date without one in the organization's time zone", async () => {
    const flags = async (query: string) =>
      (await call(`${feed}?application=${owner.projectId}&${query}`, token(owner.key))).body.results
        .map((r: any) => r.data.feature_flag)
        .filter(Boolean);
    // 15:00Z is 10:00 in New York (EST).
    expect(await flags("date_from=2025-01-10T10:00:00&date_to=2025-01-10T10:00:00")).toEqual(["12"]);
    expect(await flags("date_from=2025-01-10T10:00:01")).toEqual(["13"]);
    expect(await flags("date_from=2025-01-10T15:00:00Z&date_to=2025-01-10T15:00:00Z")).toEqual(["12"]);
    expect(await flags("date_to=2025-01-10T15:00:00")).toEqual(["12"]);
    expect(await flags(`date_from=${encodeURIComponent("2025-01-11T16:00:00+01:00")}`)).toEqual(["13"]);
    expect((await call(`${feed}?date_from=tomorrow`, token(owner.key))).body.attr).toBe("date_from");
  });

  it("pages with cursors, or page numbers with a count", async () => {
    const first = await call(`${feed}?page_size=2`, token(owner.key));
    expect(first.body.results).toHaveLength(2);
    const second = await call(first.body.next.replace(/^https?:\/\/[^/]+/, ""), token(owner.key));
    expect(ids(second.body).some((id: number) => ids(first.body).includes(id))).toBe(false);
    expect(second.body.results[0].date <= first.body.results[1].date).toBe(true);
    const numbered = await call(`${feed}?page=2&page_size=2`, token(owner.key));
    expect(ids(numbered.body)).toEqual(ids(second.body));
    expect(numbered.body.count).toBeGreaterThan(4);
  });

  it("keeps deleted projects out of reach of a key restricted to other projects", async () => {
    const scoped = await keyWithScopes(owner, ["activity_log:read"], { scoped_teams: [owner.projectId] });
    expect((await call(`${feed}?project=${payments}`, token(scoped))).body.results).toEqual([]);
    const mine = await call(`${feed}?page_size=1000`, token(scoped));
    expect(mine.body.results.every((r: any) => r.data.project === owner.projectId)).toBe(true);
  });

  it("shows members their projects' rows but not organization-level rows", async () => {
    const mine = await call(`${feed}?page_size=1000`, token(member.key));
    expect(mine.status).toBe(200);
    expect(mine.body.results.every((r: any) => r.data.project !== undefined)).toBe(true);
    const orgLevel = (await activityRows()).find((r) => r.organization_id === owner.organizationId && r.team_id === null)!;
    expect((await call(`${feed}${orgLevel.seq}/`, token(member.key))).status).toBe(404);
    const asOwner = await call(`${feed}${orgLevel.seq}/`, token(owner.key));
    expect(asOwner.status).toBe(200);
    expect(asOwner.body.id).toBe(orgLevel.seq);
    expect(asOwner.body.data).not.toHaveProperty("project");
  });

  it("hides other organizations and checks the key", async () => {
    const foreign = await otherOrganization(member);
    const row = (await activityRows()).find((r) => r.organization_id === foreign.organizationId)!;
    expect((await call(`${feed}${row.seq}/`, token(owner.key))).status).toBe(404);
    expect((await call(`${feed}${row.seq}/`, token(member.key))).status).toBe(200);
    expect((await call(`${feed}?business_unit=${foreign.organizationId}`, token(owner.key))).body.results).toEqual([]);
    expect((await call(`${feed}abc/`, token(owner.key))).status).toBe(404);
    expect((await call(feed)).status).toBe(401);
    expect((await call(feed, { key: null, headers: { authorization: "Token wrong" } })).status).toBe(401);
    const noScope = await keyWithScopes(owner, ["logs:read"]);
    expect((await call(feed, token(noScope))).status).toBe(403);
  });

  it("filters by standard id (T built-in, CT custom) and by full name; rows without a standard never match", async () => {
    const t21 = { id: "T21", name: "T21: Ensure confidential data is sent over an encrypted channel" };
    const custom = { id: "CT4", name: "CT4: Rotate signing keys yearly" };
    await ingest(owner, [
      { scope: "Task", activity: "updated", item_id: "task-1", standard: t21, detail: { name: "encrypt uploads" } },
      { scope: "Task", activity: "updated", item_id: "task-2", standard: custom },
      { scope: "Task", activity: "updated", item_id: "task-3" },
    ]);
    const byId = await call(`${feed}?standard=T21`, token(owner.key));
    expect(byId.status).toBe(200);
    expect(byId.body.results.map((r: any) => r.data.task)).toEqual(["task-1"]);
    expect(byId.body.results[0].data).toMatchObject({ standard: "T21", standard_desc: t21.name });
    expect((await call(`${feed}?standard=CT4`, token(owner.key))).body.results.map((r: any) => r.data.task)).toEqual(["task-2"]);
    // seed 004's own example of standard_desc
    const byName = await call(`${feed}?standard_desc=${encodeURIComponent(t21.name)}`, token(owner.key));
    expect(byName.body.results.map((r: any) => r.data.task)).toEqual(["task-1"]);
    expect((await call(`${feed}?standard=T99`, token(owner.key))).body.results).toEqual([]);
    expect((await call(`${feed}?standard_desc=T21`, token(owner.key))).body.results).toEqual([]);
    expect((await call(`${feed}?standard=21`, token(owner.key))).body).toMatchObject({ type: "validation_error", attr: "standard" });
    const bad = await call(`/api/projects/${owner.projectId}/activity_log/`, {
      key: owner.key,
      body: { scope: "Task", activity: "updated", standard: { id: "X1", name: "x" } },
    });
    expect(bad.body).toMatchObject({ type: "validation_error", attr: "standard__id" });
  });
});
