import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { sealAllShards } from "../../src/audit/sequencer";
import { deleteStrayExportFiles, EXPIRY_BATCH, expireExports } from "../../src/exports/expired-exports.job";
import { EXPORT_LIFETIME_DAYS, EXPORT_LIFETIME_MS } from "../../src/exports/exports.service";
import { SCHEDULED_JOBS } from "../../src/scheduled/scheduled";
import { ingest, waitForExport } from "../activity/activity-helpers";
import { activityRows, addMember, call, signupFirstUser, type Tenant } from "../helpers";

const DAY = 86_400_000;
let owner: Tenant;
let member: Tenant;

beforeAll(async () => {
  owner = await signupFirstUser();
  member = await addMember(owner, 1);
  await ingest(owner, [{ scope: "Insight", activity: "created", item_id: "i1", detail: { name: "insight" } }]);
});

async function completedExport() {
  await sealAllShards(env);
  const started = await call(`/api/projects/${owner.projectId}/advanced_activity_logs/export/`, {
    key: owner.key,
    body: { format: "csv" },
  });
  expect(started.status).toBe(202);
  const status = await waitForExport(`/api/projects/${owner.projectId}/exports/${started.body.id}/`, owner.key);
  expect(status.status).toBe("complete");
  const row = await env.DB.prepare("SELECT r2_key, completed_at FROM exports WHERE id = ?1")
    .bind(started.body.id)
    .first<{ r2_key: string; completed_at: number }>();
  if (!row) throw new Error("no export row");
  return { id: started.body.id as string, key: row.r2_key, completedAt: row.completed_at, status };
}

/** A `complete` job `daysAgo` days old with a small file, written straight into D1 and R2. */
async function oldJob(daysAgo: number, status = "complete") {
  const id = crypto.randomUUID();
  const key = `exports/${owner.organizationId}/${id}/old.csv`;
  const at = Date.now() - daysAgo * DAY;
  if (status === "complete") await env.EXPORTS_BUCKET.put(key, "a,b\r\n");
  await env.DB.prepare(
    `INSERT INTO exports (id, organization_id, team_id, kind, format, filters, filename, status, r2_key, created_by_id, created_at, completed_at)
     VALUES (?1, ?2, ?3, 'activity_log', 'csv', '{}', 'old.csv', ?4, ?5, ?6, ?7, ?7)`,
  )
    .bind(id, owner.organizationId, owner.projectId, status, status === "complete" ? key : null, owner.userId, at)
    .run();
  return { id, key, at };
}

const jobStatus = async (id: string) =>
  (await env.DB.prepare("SELECT status, r2_key FROM exports WHERE id = ?1").bind(id).first<{ status: string; r2_key: string | null }>())!;

describe("expired exports", () => {
  it("deletes a file after its lifetime, marks the job expired, and the download answers 410", async () => {
    const job = await completedExport();
    expect(job.status.expires_after).toBe(new Date(job.completedAt + EXPORT_LIFETIME_MS).toISOString());
    expect(EXPORT_LIFETIME_DAYS).toBe(7);

    // Within its lifetime nothing happens.
    await expireExports(env, job.completedAt + EXPORT_LIFETIME_MS - 1000);
    expect(await env.EXPORTS_BUCKET.head(job.key)).not.toBeNull();
    expect((await call(`/api/projects/${owner.projectId}/exports/${job.id}/content/`, { key: owner.key })).status).toBe(200);

    expect(await expireExports(env, job.completedAt + EXPORT_LIFETIME_MS + 1000)).toBeGreaterThanOrEqual(1);
    expect(await env.EXPORTS_BUCKET.head(job.key)).toBeNull();
    expect(await jobStatus(job.id)).toEqual({ status: "expired", r2_key: null });

    const status = await call(`/api/projects/${owner.projectId}/exports/${job.id}/`, { key: owner.key });
    expect(status.body).toMatchObject({ status: "expired", has_content: false, expires_after: job.status.expires_after });
    const content = await call(`/api/projects/${owner.projectId}/exports/${job.id}/content/`, { key: owner.key });
    expect(content.status).toBe(410);
    expect(content.body).toMatchObject({ type: "invalid_request", code: "export_expired", attr: null });
    expect(content.body.detail).toMatch(/files are kept 7 days after the export completes/);

    // The expiry is in the audit trail, as the system.
    const rows = (await activityRows({ scope: "ExportedAsset" })).filter((r) => r.item_id === job.id);
    expect(rows.map((r) => r.activity)).toEqual(["created", "exported", "expired"]);
    const expired = rows[2]!;
    expect(expired.is_system).toBe(1);
    expect(expired.detail.changes).toEqual([
      { type: "ExportedAsset", action: "changed", field: "status", before: "complete", after: "expired" },
    ]);

    // A second tick finds nothing more for it.
    await expireExports(env, job.completedAt + EXPORT_LIFETIME_MS + 2000);
    expect((await activityRows({ scope: "ExportedAsset", activity: "expired" })).filter((r) => r.item_id === job.id)).toHaveLength(1);
  });

  it("still hides an expired export from everyone but its requester (404, not 410)", async () => {
    const job = await oldJob(8);
    await expireExports(env, Date.now());
    expect((await jobStatus(job.id)).status).toBe("expired");
    expect((await call(`/api/projects/${owner.projectId}/exports/${job.id}/content/`, { key: member.key })).status).toBe(404);
    expect((await call(`/api/projects/${owner.projectId}/exports/${job.id}/content/`)).status).toBe(401);
    expect((await call(`/api/projects/${owner.projectId}/exports/${job.id}/content/`, { key: owner.key })).status).toBe(410);
  });

  it("answers 410 for a complete job whose file is already gone (an R2 lifecycle rule went first)", async () => {
    const job = await oldJob(1);
    await env.EXPORTS_BUCKET.delete(job.key);
    const content = await call(`/api/projects/${owner.projectId}/exports/${job.id}/content/`, { key: owner.key });
    expect(content.status).toBe(410);
    expect(content.body.code).toBe("export_expired");
  });

  it("expires at most EXPIRY_BATCH jobs per tick, oldest first, and leaves unfinished jobs alone", async () => {
    await expireExports(env, Date.now()); // whatever earlier tests left
    const jobs = await Promise.all(Array.from({ length: EXPIRY_BATCH + 5 }, (_, i) => oldJob(30 - i / 1000)));
    const failed = await oldJob(30, "failed");
    const young = await oldJob(6);

    expect(await expireExports(env, Date.now())).toBe(EXPIRY_BATCH);
    const statuses = await Promise.all(jobs.map((job) => jobStatus(job.id)));
    expect(statuses.slice(0, EXPIRY_BATCH).every((s) => s.status === "expired")).toBe(true);
    expect(statuses.slice(EXPIRY_BATCH).every((s) => s.status === "complete")).toBe(true);
    expect(await env.EXPORTS_BUCKET.head(jobs[0]!.key)).toBeNull();
    expect(await env.EXPORTS_BUCKET.head(jobs[EXPIRY_BATCH]!.key)).not.toBeNull();

    expect(await expireExports(env, Date.now())).toBe(5);
    expect(await env.EXPORTS_BUCKET.head(jobs[EXPIRY_BATCH]!.key)).toBeNull();
    expect(await expireExports(env, Date.now())).toBe(0);
    expect((await jobStatus(failed.id)).status).toBe("failed");
    expect((await jobStatus(young.id)).status).toBe("complete");
    expect(await env.EXPORTS_BUCKET.head(young.key)).not.toBeNull();
  }, 30_000);

  it("runs in the every-minute cron, with the daily sweep of stray files", () => {
    expect(SCHEDULED_JOBS.expireExports).toBe(expireExports);
    expect(Object.keys(SCHEDULED_JOBS)).toContain("runDailyStrayExportFiles");
  });
});

describe("stray export files", () => {
  it("deletes files a day past their lifetime whose job is gone, page by page, resuming where it stopped", async () => {
    const keys = Array.from({ length: 5 }, (_, i) => `exports/deleted-org/${crypto.randomUUID()}/f${i}.csv`);
    for (const key of keys) await env.EXPORTS_BUCKET.put(key, "x");
    await env.EXPORTS_BUCKET.put("elsewhere/keep.txt", "x");
    const present = async () => (await Promise.all(keys.map((key) => env.EXPORTS_BUCKET.head(key)))).filter(Boolean).length;

    // Young files stay, whatever the job table says.
    expect(await deleteStrayExportFiles(env, Date.now())).toEqual({ deleted: 0, complete: true });
    expect(await present()).toBe(5);
    // Within the lifetime plus a day's grace (left to expireExports), they stay too.
    expect((await deleteStrayExportFiles(env, Date.now() + EXPORT_LIFETIME_MS + DAY / 2)).deleted).toBe(0);

    const later = Date.now() + EXPORT_LIFETIME_MS + 2 * DAY;
    const first = await deleteStrayExportFiles(env, later, { pages: 1, pageSize: 2 });
    expect(first.complete).toBe(false);
    let deleted = first.deleted;
    for (let i = 0; i < 10; i++) {
      const next = await deleteStrayExportFiles(env, later, { pages: 1, pageSize: 2 });
      deleted += next.deleted;
      if (next.complete) break;
    }
    expect(await present()).toBe(0);
    expect(deleted).toBeGreaterThanOrEqual(5);
    // Only export files: other prefixes of the bucket are not touched.
    expect(await env.EXPORTS_BUCKET.head("elsewhere/keep.txt")).not.toBeNull();
  });
});
