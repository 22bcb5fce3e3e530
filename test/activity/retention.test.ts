import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { purgeExpiredActivity, runDailyActivityRetention } from "../../src/activity/retention.job";
import { refreshSearchIndex } from "../../src/activity/search-index";
import { call, signupFirstUser, type Tenant } from "../helpers";
import { ingest, organizationWithHistory, seedActivity } from "./activity-helpers";

let owner: Tenant;
const DAY = 86_400_000;
const daysAgo = (days: number) => new Date(Date.now() - days * DAY).toISOString();

beforeAll(async () => {
  owner = await signupFirstUser();
});

const itemsOf = async (organizationId: string) =>
  (
    await env.DB.prepare("SELECT item_id FROM activity_log WHERE organization_id = ?1 AND item_id LIKE 'ret-%' ORDER BY item_id")
      .bind(organizationId)
      .all<{ item_id: string }>()
  ).results.map((r) => r.item_id);

describe("activity retention", () => {
  it("deletes rows past each organization's window by chain prefix, and keeps the rest", async () => {
    const long = await organizationWithHistory([
      ["ret-400d", 400],
      ["ret-300d", 300],
      ["ret-10d", 10],
    ]);
    const short = await organizationWithHistory(
      [
        ["ret-40d", 40],
        ["ret-20d", 20],
      ],
      30,
    );
    // Written after a newer row: it waits until the row before it expires too.
    const backdated = await organizationWithHistory([
      ["ret-5d", 5],
      ["ret-500d", 500],
    ]);
    await seedActivity(owner, [{ scope: "A", activity: "x", item_id: "ret-400d-api", created_at: daysAgo(400) }]);

    await refreshSearchIndex(env.DB, 10_000);
    const result = await purgeExpiredActivity(env, Date.now());
    expect(result).toMatchObject({ deleted: 2, complete: true });
    expect(await itemsOf(long)).toEqual(["ret-10d", "ret-300d"]);
    expect(await itemsOf(short)).toEqual(["ret-20d"]);
    expect(await itemsOf(backdated)).toEqual(["ret-500d", "ret-5d"]);
    // The owner's organization was created today, so its backdated row waits behind that.
    expect(await itemsOf(owner.organizationId)).toEqual(["ret-400d-api"]);
    // The search index follows the deletions.
    const count = await env.DB.prepare("SELECT count(*) AS n FROM activity_log_search").first<{ n: number }>();
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM activity_log").first<{ n: number }>();
    expect(count!.n).toBe(rows!.n);
    // Idempotent: nothing more to do.
    expect((await purgeExpiredActivity(env, Date.now())).deleted).toBe(0);
  });

  it("follows a retention change", async () => {
    const org = await organizationWithHistory([
      ["ret-300d", 300],
      ["ret-250d", 250],
      ["ret-100d", 100],
    ]);
    await env.DB.prepare("UPDATE organizations SET activity_log_retention_days = 200 WHERE id = ?1").bind(org).run();
    expect((await purgeExpiredActivity(env, Date.now())).deleted).toBe(2);
    expect(await itemsOf(org)).toEqual(["ret-100d"]);
  });

  it("deletes in batches until done, and stops when out of budget", async () => {
    await organizationWithHistory(Array.from({ length: 6000 }, (_, i) => [`ret-b${i}`, 500] as [string, number]));
    const cut = await purgeExpiredActivity(env, Date.now(), 0);
    expect(cut).toMatchObject({ deleted: 5000, complete: false });
    const rest = await purgeExpiredActivity(env, Date.now());
    expect(rest).toMatchObject({ deleted: 1000, complete: true });
  });

  it("sweeps rows of deleted organizations after the default 365 days", async () => {
    const gone = await organizationWithHistory(
      [
        ["ret-gone-old", 366],
        ["ret-gone-new", 10],
      ],
      null,
    );
    await purgeExpiredActivity(env, Date.now());
    expect(await itemsOf(gone)).toEqual(["ret-gone-new"]);
  });

  it("removes ingest idempotency keys after 24 hours", async () => {
    await call(`/api/projects/${owner.projectId}/activity_log/`, {
      key: owner.key,
      body: { scope: "D", activity: "x" },
      headers: { "Idempotency-Key": "k1" },
    });
    expect((await purgeExpiredActivity(env, Date.now())).idempotencyKeysDeleted).toBe(0);
    expect((await purgeExpiredActivity(env, Date.now() + DAY + 1000)).idempotencyKeysDeleted).toBe(1);
  });

  it("runs from 03:00 UTC once per day", async () => {
    // Yesterday (UTC): the database refuses to delete rows that are not expired by its own clock.
    const day = Math.floor(Date.now() / DAY) * DAY - DAY;
    expect(await runDailyActivityRetention(env, day + 2 * 3600_000)).toBeNull();
    expect(await runDailyActivityRetention(env, day + 3 * 3600_000)).toMatchObject({ complete: true });
    expect(await runDailyActivityRetention(env, day + 3 * 3600_000 + 60_000)).toBeNull();
    expect(await runDailyActivityRetention(env, day + 23 * 3600_000)).toBeNull();
    expect(await runDailyActivityRetention(env, day + 27 * 3600_000)).toMatchObject({ complete: true });
  });
});

describe("append-only activity log", () => {
  it("rejects any UPDATE of a row", async () => {
    const { ids } = await ingest(owner, [{ scope: "E", activity: "x", item_id: "keep" }]);
    await expect(env.DB.prepare("UPDATE activity_log SET activity = 'tampered' WHERE id = ?1").bind(ids[0]).run()).rejects.toThrow(
      /append-only/,
    );
    const row = await env.DB.prepare("SELECT activity FROM activity_log WHERE id = ?1").bind(ids[0]).first<{ activity: string }>();
    expect(row!.activity).toBe("x");
  });

  it("rejects deleting a row inside its retention window", async () => {
    const { ids } = await ingest(owner, [{ scope: "E", activity: "x", item_id: "keep2", created_at: daysAgo(5) }]);
    await expect(env.DB.prepare("DELETE FROM activity_log WHERE id = ?1").bind(ids[0]).run()).rejects.toThrow(/retention sweep/);
    expect(await env.DB.prepare("SELECT 1 AS ok FROM activity_log WHERE id = ?1").bind(ids[0]).first()).not.toBeNull();
  });

  it("has no route that updates or deletes rows", async () => {
    const { ids } = await ingest(owner, [{ scope: "E", activity: "x" }]);
    for (const method of ["PATCH", "PUT", "DELETE"]) {
      const res = await call(`/api/projects/${owner.projectId}/activity_log/${ids[0]}/`, {
        key: owner.key,
        method,
        body: { activity: "y" },
      });
      expect([404, 405]).toContain(res.status);
    }
  });
});
