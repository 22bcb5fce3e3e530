import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import type { LogRow } from "../../src/logs/otlp";
import { projectsWithExpiredLogs, purgeExpiredLogs, RETENTION_BATCH, runDailyLogsRetention } from "../../src/logs/retention.job";
import { insertLogsStatements } from "../../src/logs/write.queries";
import { call, otherOrganization, signupFirstUser, type Tenant } from "../helpers";

const DAY = 86_400_000;
const now = Date.UTC(2026, 10, 20, 3, 0, 0);
let t: Tenant;
let shortProjectId: number;

function row(ms: number, i: number): LogRow {
  return {
    uuid: crypto.randomUUID(),
    timestamp: ms * 1000,
    observedTimestamp: ms * 1000,
    severityText: "info",
    severityNumber: 9,
    serviceName: `svc-${i % 3}`,
    body: `log ${i}`,
    traceId: null,
    spanId: null,
    traceFlags: 0,
    attributes: { n: String(i) },
    resourceAttributes: { "service.name": `svc-${i % 3}` },
    instrumentationScope: "",
    eventName: "",
  };
}

async function store(projectId: number, rows: LogRow[]) {
  const db = createDb(env.DB);
  const [first, ...rest] = insertLogsStatements(db, projectId, rows);
  if (first) await db.batch([first, ...rest]);
}

const count = async (table: string, projectId: number) =>
  (await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE project_id = ?`).bind(projectId).first<{ n: number }>())?.n ?? 0;
const oldest = async (projectId: number) =>
  (await env.DB.prepare("SELECT min(timestamp) AS t FROM log_records WHERE project_id = ?").bind(projectId).first<{ t: number }>())?.t ?? 0;

beforeAll(async () => {
  t = await signupFirstUser();
  const other = await otherOrganization(t);
  shortProjectId = other.projectId;
  const res = await call(`/api/projects/${shortProjectId}/`, { key: t.key, method: "PATCH", body: { logs_retention_days: 2 } });
  expect(res.status).toBe(200);
  // Default project (30 days): 12000 logs 31-40 days old (more than two delete batches) and 100 recent ones.
  const expired = Array.from({ length: 12_000 }, (_, i) => row(now - 31 * DAY - (i % 9) * DAY - i, i));
  for (let i = 0; i < expired.length; i += 2000) await store(t.projectId, expired.slice(i, i + 2000));
  await store(
    t.projectId,
    Array.from({ length: 100 }, (_, i) => row(now - 29 * DAY + i * 60_000, i)),
  );
  // Two-day project: a log of three days ago goes, one of yesterday stays.
  await store(shortProjectId, [row(now - 3 * DAY, 1), row(now - 1 * DAY, 2)]);
});

describe("logs retention", () => {
  it("visits only the projects that hold expired logs", async () => {
    const recentOnly = await otherOrganization(t);
    await store(recentOnly.projectId, [row(now - DAY, 9)]);
    const projects = await projectsWithExpiredLogs(createDb(env.DB), now);
    expect(projects).toEqual([
      { id: t.projectId, days: 30 },
      { id: shortProjectId, days: 2 },
    ]);
  });

  it("removes records, counters and index rows past each project's logs_retention_days, in batches", async () => {
    expect(12_000).toBeGreaterThan(2 * RETENTION_BATCH);
    const result = await purgeExpiredLogs(createDb(env.DB), now);
    expect(result.complete).toBe(true);
    expect(await count("log_records", t.projectId)).toBe(100);
    expect(await oldest(t.projectId)).toBeGreaterThanOrEqual((now - 30 * DAY) * 1000);
    const counters = await env.DB.prepare(
      "SELECT coalesce(sum(count), 0) AS n, min(minute) AS m FROM log_minute_counts WHERE project_id = ?",
    )
      .bind(t.projectId)
      .first<{ n: number; m: number }>();
    expect(counters?.n).toBe(100);
    expect((counters?.m ?? 0) * 60_000).toBeGreaterThanOrEqual(now - 30 * DAY);
    const hours = await env.DB.prepare(
      "SELECT min(hour) AS k, (SELECT min(hour) FROM log_attribute_values WHERE project_id = ?1) AS v FROM log_attribute_keys WHERE project_id = ?1",
    )
      .bind(t.projectId)
      .first<{ k: number; v: number }>();
    expect((hours?.k ?? 0) * 3_600_000).toBeGreaterThanOrEqual(now - 30 * DAY - 3_600_000);
    expect((hours?.v ?? 0) * 3_600_000).toBeGreaterThanOrEqual(now - 30 * DAY - 3_600_000);
    expect(await count("log_records", shortProjectId)).toBe(1);
    expect(await count("log_minute_counts", shortProjectId)).toBe(1);
    expect(result.deleted).toBeGreaterThan(12_000);
  });

  it("is idempotent", async () => {
    expect(await projectsWithExpiredLogs(createDb(env.DB), now)).toEqual([]);
    expect(await purgeExpiredLogs(createDb(env.DB), now)).toEqual({ deleted: 0, complete: true });
    expect(await count("log_records", t.projectId)).toBe(100);
  });

  it("runs from the cron once a day", async () => {
    await store(shortProjectId, [row(now - 5 * DAY, 3)]);
    expect(await runDailyLogsRetention(env, now)).toEqual({ deleted: expect.any(Number), complete: true });
    expect(await count("log_records", shortProjectId)).toBe(1);
    await store(shortProjectId, [row(now - 5 * DAY, 4)]);
    expect(await runDailyLogsRetention(env, now + DAY / 2)).toBeNull();
    expect(await count("log_records", shortProjectId)).toBe(2);
    expect((await runDailyLogsRetention(env, now + DAY))?.complete).toBe(true);
    const left = await env.DB.prepare("SELECT body FROM log_records WHERE project_id = ?").bind(shortProjectId).all<{ body: string }>();
    expect(left.results.map((r) => r.body)).toEqual(["log 2"]);
  });
});
