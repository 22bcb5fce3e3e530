import { and, eq, lt, sql } from "drizzle-orm";
import { commitWithActivity, diffChanges, SYSTEM_ACTOR, type WriteContext } from "../audit/record";
import { createDb } from "../db/client";
import { exportJobs } from "../db/schema";
import type { Env } from "../env";
import { oncePerDay } from "../lib/daily";
import { EXPORT_LIFETIME_MS, EXPORT_OBJECT_PREFIX, EXPORT_SCOPE } from "./exports.service";

/** Exports one tick expires: one R2 delete of at most this many keys and one D1 batch. */
export const EXPIRY_BATCH = 100;

/**
 * Cron, every minute: deletes the files of exports completed more than EXPORT_LIFETIME_DAYS ago
 * and marks their jobs `expired` (the download then answers 410), oldest first, EXPIRY_BATCH per
 * tick; a backlog is worked off over the next ticks. The files go first: a tick that dies between
 * the two leaves jobs that the next tick expires again (deleting a missing key is a no-op), never
 * a file that nothing points to. Each expiry is an `expired` activity row of the system.
 */
export async function expireExports(env: Env, now: number): Promise<number> {
  const db = createDb(env.DB);
  const cutoff = new Date(now - EXPORT_LIFETIME_MS);
  // created_at bounds the scan with the (status, created_at) index: a job completes after it is created.
  const due = await db
    .select()
    .from(exportJobs)
    .where(and(eq(exportJobs.status, "complete"), lt(exportJobs.createdAt, cutoff), lt(exportJobs.completedAt, cutoff)))
    .orderBy(exportJobs.createdAt)
    .limit(EXPIRY_BATCH);
  if (!due.length) return 0;
  const keys = due.flatMap((job) => (job.r2Key ? [job.r2Key] : []));
  if (keys.length) await env.EXPORTS_BUCKET.delete(keys);
  const ctx: WriteContext = { db, env, actor: SYSTEM_ACTOR, waitUntil: () => {} };
  const ids = JSON.stringify(due.map((job) => job.id));
  await commitWithActivity(
    ctx,
    [
      db
        .update(exportJobs)
        .set({ status: "expired", r2Key: null })
        .where(and(eq(exportJobs.status, "complete"), sql`${exportJobs.id} IN (SELECT value FROM json_each(${ids}))`)),
    ],
    due.map((job) => ({
      organizationId: job.organizationId,
      teamId: job.teamId,
      scope: EXPORT_SCOPE,
      activity: "expired",
      itemId: job.id,
      detail: {
        name: job.filename,
        changes: diffChanges(EXPORT_SCOPE, { status: job.status }, { status: "expired" }),
        context: { kind: job.kind, format: job.format, size_bytes: job.sizeBytes, completed_at: job.completedAt?.toISOString() ?? null },
      },
    })),
  );
  return due.length;
}

/** Files this much older than the lifetime are left to `expireExports` first (it records the expiry). */
const STRAY_GRACE_MS = 86_400_000;
/** Bucket listing pages (of 1,000 objects, R2's most) one tick reads; the listing resumes at the next tick. */
const LISTING_BUDGET = { pages: 10, pageSize: 1000 };
const STRAY_CURSOR_KEY = "exports_stray_files_cursor";
const STRAY_LAST_RUN_KEY = "exports_stray_files_last_day";

export interface StrayFilesResult {
  deleted: number;
  /** False when the listing budget ran out; the next tick goes on from the saved cursor. */
  complete: boolean;
}

async function setting(env: Env, key: string): Promise<string | undefined> {
  return (await env.DB.prepare("SELECT value FROM instance_settings WHERE key = ?1").bind(key).first<{ value: string }>())?.value;
}

async function saveSetting(env: Env, key: string, value: string | null): Promise<void> {
  const statement =
    value === null
      ? env.DB.prepare("DELETE FROM instance_settings WHERE key = ?1").bind(key)
      : env.DB.prepare(
          "INSERT INTO instance_settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        ).bind(key, value);
  await statement.run();
}

/**
 * Deletes export files that outlived their lifetime by a day whatever their job says: the files
 * of exports whose project or organization was deleted (their jobs went with it), and any file
 * `expireExports` missed. Walks the bucket's `exports/` listing, LISTING_BUDGET pages per
 * call, keeping its place in `instance_settings` between calls.
 */
export async function deleteStrayExportFiles(env: Env, now: number, budget = LISTING_BUDGET): Promise<StrayFilesResult> {
  const cutoff = now - EXPORT_LIFETIME_MS - STRAY_GRACE_MS;
  let cursor = await setting(env, STRAY_CURSOR_KEY);
  let deleted = 0;
  for (let page = 0; page < budget.pages; page++) {
    const listing = await env.EXPORTS_BUCKET.list({ prefix: EXPORT_OBJECT_PREFIX, cursor, limit: budget.pageSize });
    const stale = listing.objects.filter((object) => object.uploaded.getTime() < cutoff).map((object) => object.key);
    if (stale.length) await env.EXPORTS_BUCKET.delete(stale);
    deleted += stale.length;
    if (!listing.truncated) {
      await saveSetting(env, STRAY_CURSOR_KEY, null);
      return { deleted, complete: true };
    }
    cursor = listing.cursor;
  }
  await saveSetting(env, STRAY_CURSOR_KEY, cursor ?? null);
  return { deleted, complete: false };
}

/** The daily part: once per UTC day from 03:00 (`oncePerDay`), resumed by the next ticks until the listing is done. */
export function runDailyStrayExportFiles(env: Env, now = Date.now()): Promise<StrayFilesResult | null> {
  return oncePerDay(env, STRAY_LAST_RUN_KEY, now, () => deleteStrayExportFiles(env, now));
}
