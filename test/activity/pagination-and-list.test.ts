import { beforeAll, describe, expect, it } from "vitest";
import { activityRows, addMember, call, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";
import { allPages, flagChange, ingest, seedActivity } from "./activity-helpers";

let owner: Tenant;
let member: Tenant;
let advanced: string;
const T0 = Date.parse("2025-06-01T00:00:00Z");

beforeAll(async () => {
  owner = await signupFirstUser();
  member = await addMember(owner, 1);
  advanced = `/api/projects/${owner.projectId}/advanced_activity_logs/`;
  // 25 rows; rows 10..14 share one created_at so ties are broken by id.
  const entries = Array.from({ length: 25 }, (_, i) => ({
    scope: i % 2 ? "FeatureFlag" : "Insight",
    activity: "updated",
    item_id: `p${i}`,
    created_at: new Date(T0 + (i >= 10 && i < 15 ? 10 : i) * 1000).toISOString(),
  }));
  await seedActivity(owner, entries);
});

const strip = (url: string) => url.replace(/^https?:\/\/[^/]+/, "");
const projectRows = async () => (await activityRows()).filter((r) => r.team_id === owner.projectId);
const byNewest = (rows: Record<string, any>[]) =>
  [...rows].sort((a, b) => b.created_at - a.created_at || (b.id < a.id ? -1 : 1)).map((r) => r.id);

describe("cursor pagination", () => {
  it("pages newest first by (created_at, id) with next and previous links", async () => {
    const expected = byNewest(await projectRows());
    const first = await call(`${advanced}?page_size=7`, { key: owner.key });
    expect(first.status).toBe(200);
    expect(first.body).not.toHaveProperty("count");
    expect(first.body.previous).toBeNull();
    expect(first.body.results.map((r: any) => r.id)).toEqual(expected.slice(0, 7));
    expect(first.body.next).toMatch(/^http:\/\/audit\.test\/api\/projects\/\d+\/advanced_activity_logs\/\?page_size=7&cursor=/);

    const second = await call(strip(first.body.next), { key: owner.key });
    expect(second.body.results.map((r: any) => r.id)).toEqual(expected.slice(7, 14));
    const back = await call(strip(second.body.previous), { key: owner.key });
    expect(back.body.results.map((r: any) => r.id)).toEqual(expected.slice(0, 7));
    expect(back.body.previous).toBeNull();
    expect(back.body.next).not.toBeNull();

    const all = await allPages(`${advanced}?page_size=7`, owner.key);
    expect(all.map((r) => r.id)).toEqual(expected);
  });

  it("orders oldest first with ordering=created_at, and follow keeps a next link at the tail", async () => {
    const expected = byNewest(await projectRows()).reverse();
    const all = await allPages(`${advanced}?ordering=created_at&page_size=10`, owner.key);
    expect(all.map((r) => r.id)).toEqual(expected);

    const last = await call(`${advanced}?ordering=created_at&page_size=1000&follow=true`, { key: owner.key });
    expect(last.body.results).toHaveLength(expected.length);
    expect(last.body.next).not.toBeNull();
    const empty = await call(strip(last.body.next), { key: owner.key });
    expect(empty.body.results).toEqual([]);
    expect(empty.body.next).not.toBeNull();
    await ingest(owner, [{ scope: "Insight", activity: "created", item_id: "late" }]);
    const resumed = await call(strip(empty.body.next), { key: owner.key });
    expect(resumed.body.results.map((r: any) => r.item_id)).toEqual(["late"]);
    const plain = await call(`${advanced}?ordering=created_at&page_size=1000`, { key: owner.key });
    expect(plain.body.next).toBeNull();
  });

  it("rejects a bad cursor, ordering or page size", async () => {
    expect((await call(`${advanced}?cursor=garbage`, { key: owner.key })).body).toMatchObject({ type: "validation_error", attr: "cursor" });
    expect((await call(`${advanced}?ordering=scope`, { key: owner.key })).body.attr).toBe("ordering");
    expect((await call(`${advanced}?page_size=1001`, { key: owner.key })).body.attr).toBe("page_size");
    expect((await call(`${advanced}?page_size=0`, { key: owner.key })).status).toBe(400);
  });
});

describe("page-number pagination", () => {
  it("answers count, next and previous when page is given", async () => {
    const expected = byNewest(await projectRows());
    const p1 = await call(`${advanced}?page=1&page_size=10`, { key: owner.key });
    expect(p1.body.count).toBe(expected.length);
    expect(p1.body.previous).toBeNull();
    expect(p1.body.results.map((r: any) => r.id)).toEqual(expected.slice(0, 10));
    const p2 = await call(strip(p1.body.next), { key: owner.key });
    expect(p2.body.results.map((r: any) => r.id)).toEqual(expected.slice(10, 20));
    expect(strip(p2.body.previous)).toBe(`${advanced}?page_size=10`);
    const lastPage = Math.ceil(expected.length / 10);
    const pn = await call(`${advanced}?page=${lastPage}&page_size=10`, { key: owner.key });
    expect(pn.body.next).toBeNull();
    expect(pn.body.results.map((r: any) => r.id)).toEqual(expected.slice((lastPage - 1) * 10));
    const filtered = await call(`${advanced}?page=1&scopes=FeatureFlag`, { key: owner.key });
    expect(filtered.body.count).toBe((await projectRows()).filter((r) => r.scope === "FeatureFlag").length);
  });

  it("answers 404 past the last page", async () => {
    const res = await call(`${advanced}?page=99&page_size=10`, { key: owner.key });
    expect(res.status).toBe(404);
    expect(res.body.detail).toBe("Invalid page.");
  });
});

describe("GET /api/projects/:id/activity_log/", () => {
  const list = () => `/api/projects/${owner.projectId}/activity_log/`;

  it("filters by user (id or uuid), scope, scopes and item_id", async () => {
    await ingest(owner, [
      { scope: "Notebook", activity: "created", item_id: "nb1", user: member.userId },
      { scope: "Notebook", activity: "updated", item_id: "nb1" },
    ]);
    const byId = await call(`${list()}?user=${member.userId}`, { key: owner.key });
    expect(byId.body.results.every((r: any) => r.user?.id === member.userId)).toBe(true);
    expect(byId.body.results.map((r: any) => r.item_id)).toContain("nb1");
    const byUuid = await call(`${list()}?user=${member.userUuid}`, { key: owner.key });
    expect(byUuid.body.results.map((r: any) => r.id)).toEqual(byId.body.results.map((r: any) => r.id));
    expect((await call(`${list()}?user=bob`, { key: owner.key })).body.attr).toBe("user");

    const scope = await call(`${list()}?scope=Notebook`, { key: owner.key });
    expect(scope.body.results.map((r: any) => r.activity)).toEqual(["updated", "created"]);
    const scopes = await call(`${list()}?scopes=Notebook,FeatureFlag`, { key: owner.key });
    expect(new Set(scopes.body.results.map((r: any) => r.scope))).toEqual(new Set(["Notebook", "FeatureFlag"]));
    // Repeated parameters are a list too, as in PostHog (`posthog/api/fields.py`).
    const repeated = await call(`${list()}?scopes=Notebook&scopes=FeatureFlag`, { key: owner.key });
    expect(repeated.status).toBe(200);
    expect(repeated.body.results.map((r: any) => r.id)).toEqual(scopes.body.results.map((r: any) => r.id));
    const both = await call(`${list()}?scope=Insight&scopes=Notebook`, { key: owner.key });
    expect(both.body.results).toEqual([]);
    const item = await call(`${list()}?item_id=nb1&page=1`, { key: owner.key });
    expect(item.body.count).toBe(2);
  });

  it("marks rows unread after the caller's bookmark", async () => {
    const page = await call(`${list()}?scope=Notebook`, { key: member.key });
    expect(page.body.results.every((r: any) => r.unread)).toBe(true);
    const [newest, older] = page.body.results;
    // Seed 000's example body sends the row's fields (`user`, `activity`, `scope`) too: ignored, as DRF does.
    const saved = await call(`${list()}bookmark_activity_notification/`, {
      key: member.key,
      body: { bookmark: older.created_at, activity: "string", scope: "string", user: null },
    });
    expect(saved.status).toBe(204);
    const after = await call(`${list()}?scope=Notebook`, { key: member.key });
    const unread = Object.fromEntries(after.body.results.map((r: any) => [r.id, r.unread]));
    expect(unread[older.id]).toBe(false);
    expect(unread[newest.id]).toBe(newest.created_at > older.created_at);
    // The bookmark is the member's own; the owner still sees everything unread.
    const ownerView = await call(`${list()}?scope=Notebook`, { key: owner.key });
    expect(ownerView.body.results.every((r: any) => r.unread)).toBe(true);
  });

  it("needs a bookmark to save", async () => {
    const res = await call(`${list()}bookmark_activity_notification/`, { key: owner.key, body: {} });
    expect(res.status).toBe(400);
    expect(res.body.attr).toBe("bookmark");
    expect((await call(`${list()}bookmark_activity_notification/`, { key: owner.key, body: { bookmark: "soon" } })).body.attr).toBe(
      "bookmark",
    );
    const unknown = await call(`${list()}bookmark_activity_notification/`, {
      key: owner.key,
      body: { bookmark: new Date().toISOString(), colour: "red" },
    });
    expect(unknown.body).toMatchObject({ type: "validation_error", detail: "Unknown field: colour." });
  });

  it("needs activity_log:read, and membership of the project's organization", async () => {
    expect((await call(list())).status).toBe(401);
    const logsOnly = await keyWithScopes(owner, ["logs:read"]);
    expect((await call(list(), { key: logsOnly })).status).toBe(403);
    const other = await otherOrganization(owner);
    expect((await call(`/api/projects/${other.projectId}/activity_log/`, { key: member.key })).status).toBe(404);
    expect((await call(`/api/projects/${other.projectId}/advanced_activity_logs/`, { key: member.key })).status).toBe(404);
    expect((await call(advanced, { key: member.key })).status).toBe(200);
  });
});

describe("GET /api/projects/:id/activity_log/important_changes/", () => {
  it("lists other people's changes to what the caller created or changed, newest first, at most 10", async () => {
    const path = `/api/projects/${owner.projectId}/activity_log/important_changes/`;
    await seedActivity(owner, [
      { scope: "Experiment", activity: "created", item_id: "e1", user: member.userId },
      { scope: "Experiment", activity: "created", item_id: "e2" },
      { scope: "Experiment", activity: "updated", item_id: "e1", detail: { changes: [flagChange("name", "a", "b")] } },
      { scope: "Experiment", activity: "updated", item_id: "e2", user: member.userId },
      { scope: "Experiment", activity: "updated", item_id: "e2", is_system: true },
    ]);
    const res = await call(path, { key: member.key });
    expect(res.status).toBe(200);
    // The owner's change to the member's e1 counts; the member's own change to e2 and the system row do not.
    const e = res.body.results.filter((r: any) => r.scope === "Experiment");
    expect(e.map((r: any) => [r.item_id, r.user.id])).toEqual([["e1", owner.userId]]);
    expect(res.body.results.length).toBeLessThanOrEqual(10);
    expect(res.body.last_read).not.toBeUndefined();

    // Changes in a burst by one person to one item show once.
    await ingest(
      owner,
      [1, 2, 3].map(() => ({ scope: "Experiment", activity: "updated", item_id: "e1" })),
    );
    const burst = await call(path, { key: member.key });
    expect(burst.body.results.filter((r: any) => r.item_id === "e1")).toHaveLength(1);

    await call(`/api/projects/${owner.projectId}/activity_log/bookmark_activity_notification/`, {
      key: member.key,
      body: { bookmark: new Date(Date.now() + 1000).toISOString() },
    });
    const unread = await call(`${path}?unread=true`, { key: member.key });
    expect(unread.body.results).toEqual([]);
    expect(unread.body.last_read).toMatch(/Z$/);
  });
});
