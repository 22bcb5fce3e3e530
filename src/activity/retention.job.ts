import type { Env } from "../env";
import { oncePerDay } from "../lib/daily";
import { IDEMPOTENCY_WINDOW_MS } from "./ingest";

// The daily activity retention sweep. Rows older than their organization's
// `activity_log_retention_days` are deleted in batches (rows of a deleted organization after the
// default 365 days). The database enforces the other half: a trigger refuses to delete a row still
// inside its window, another refuses every UPDATE (see migrations/0008_*.sql).

const DAY_MS = 86_400_000;
const DEFAULT_RETENTION_DAYS = 365;
const LAST_RUN_KEY = "activity_retention_last_day";
const BATCH = 5000;

export interface ActivityRetentionResult {
  deleted: number;
  idempotencyKeysDeleted: number;
  complete: boolean;
}

/** Organizations that still have rows but no longer exist, found by skipping through the index. */
async function orphanOrganizations(db: D1Database): Promise<string[]> {
  const { results } = await db
    .prepare(
      `WITH RECURSIVE org(id) AS (
         SELECT min(organization_id) FROM activity_log
         UNION ALL SELECT (SELECT min(organization_id) FROM activity_log WHERE organization_id > org.id) FROM org WHERE org.id IS NOT NULL
       )
       SELECT id FROM org WHERE id IS NOT NULL AND id NOT IN (SELECT id FROM organizations)`,
    )
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

/** Runs a `DELETE ... RETURNING` of at most BATCH rows until it deletes fewer (D1's `changes` also counts the search index's rows). */
async function deleteInBatches(statement: D1PreparedStatement, deadline: number): Promise<{ deleted: number; complete: boolean }> {
  let deleted = 0;
  while (true) {
    const { results } = await statement.all();
    deleted += results.length;
    if (results.length < BATCH) return { deleted, complete: true };
    if (Date.now() >= deadline) return { deleted, complete: false };
  }
}

/**
 * Deletes expired rows (and expired ingest idempotency keys) until done or `budgetMs` is spent.
 * Idempotent: a repeated or overlapping run finds nothing more to delete.
 */
export async function purgeExpiredActivity(env: Env, now: number, budgetMs = 25_000): Promise<ActivityRetentionResult> {
  const db = env.DB;
  const deadline = Date.now() + budgetMs;
  const orphans = await orphanOrganizations(db);
  const rows = await deleteInBatches(
    db
      .prepare(
        `DELETE FROM activity_log WHERE seq IN (
           SELECT a.seq FROM (
             SELECT id, activity_log_retention_days AS days FROM organizations
             UNION ALL SELECT value, ?3 FROM json_each(?2)
           ) AS o
           JOIN activity_log AS a INDEXED BY activity_log_org_time ON a.organization_id = o.id AND a.created_at < ?1 - o.days * ${DAY_MS}
           LIMIT ${BATCH})
         RETURNING 1`,
      )
      .bind(now, JSON.stringify(orphans), DEFAULT_RETENTION_DAYS),
    deadline,
  );
  const keys = await deleteInBatches(
    db
      .prepare(
        `DELETE FROM activity_ingest_keys WHERE key IN (SELECT key FROM activity_ingest_keys WHERE created_at <= ?1 LIMIT ${BATCH}) RETURNING 1`,
      )
      .bind(now - IDEMPOTENCY_WINDOW_MS),
    deadline,
  );
  const complete = rows.complete && keys.complete;
  // Keeps the planner's statistics current as the table grows and shrinks.
  if (complete) await db.prepare("PRAGMA optimize").run();
  return { deleted: rows.deleted, idempotencyKeysDeleted: keys.deleted, complete };
}

/** The cron entry: once per UTC day from 03:00 (see `oncePerDay`). */
export function runDailyActivityRetention(env: Env, now: number): Promise<ActivityRetentionResult | null> {
  return oncePerDay(env, LAST_RUN_KEY, now, () => purgeExpiredActivity(env, now));
}
