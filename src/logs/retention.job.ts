import { type SQL, sql } from "drizzle-orm";
import { createDb, type Db } from "../db/client";
import type { Env } from "../env";
import { oncePerDay } from "../lib/daily";

const DAY_MS = 86_400_000;
/** Rows one DELETE removes: keeps every statement short on D1 however much has expired. */
export const RETENTION_BATCH = 5000;
/** DELETE statements one run may issue; what is left waits for the next tick. */
const STATEMENT_BUDGET = 400;
const LAST_RUN_KEY = "logs_retention_last_day";

interface DeleteTarget {
  table: string;
  expired: (projectId: number, cutoffUs: number) => SQL;
}

// Each table is cut at the same minute-aligned instant. The per-minute counters go last: a project
// with expired counters is a project with work left, even after an interrupted run.
const TARGETS: DeleteTarget[] = [
  { table: "log_attribute_values", expired: (p, cutoff) => sql`project_id = ${p} AND hour < ${Math.floor(cutoff / 3_600_000_000)}` },
  {
    table: "log_attribute_keys",
    expired: (p, cutoff) =>
      sql`project_id = ${p} AND attribute_type IN ('log', 'resource') AND hour < ${Math.floor(cutoff / 3_600_000_000)}`,
  },
  { table: "log_records", expired: (p, cutoff) => sql`project_id = ${p} AND timestamp < ${cutoff}` },
  { table: "log_minute_counts", expired: (p, cutoff) => sql`project_id = ${p} AND minute < ${cutoff / 60_000_000}` },
];

/** Projects holding logs older than their retention (one indexed probe per project, in one statement). */
export async function projectsWithExpiredLogs(db: Db, now: number): Promise<{ id: number; days: number }[]> {
  const nowMinute = Math.floor(now / 60_000);
  return db.all<{ id: number; days: number }>(
    sql`SELECT id, logs_retention_days AS days FROM projects p
      WHERE EXISTS (SELECT 1 FROM log_minute_counts m WHERE m.project_id = p.id AND m.minute < ${nowMinute} - p.logs_retention_days * 1440)
      ORDER BY id`,
  );
}

export interface RetentionResult {
  deleted: number;
  /** False when the statement budget ran out before everything expired was removed. */
  complete: boolean;
}

/**
 * Removes every project's logs (records, per-minute counters, attribute index) older than its
 * `logs_retention_days`. Idempotent: a second run finds nothing to do.
 */
export async function purgeExpiredLogs(db: Db, now = Date.now()): Promise<RetentionResult> {
  const projects = await projectsWithExpiredLogs(db, now);
  let deleted = 0;
  let statements = 0;
  for (const project of projects) {
    const cutoffMs = Math.floor((now - project.days * DAY_MS) / 60_000) * 60_000;
    for (const target of TARGETS) {
      for (;;) {
        if (statements++ >= STATEMENT_BUDGET) return { deleted, complete: false };
        const table = sql.raw(target.table);
        const result = await db.run(
          sql`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${target.expired(project.id, cutoffMs * 1000)} LIMIT ${RETENTION_BATCH})`,
        );
        const changes = result.meta.changes ?? 0;
        deleted += changes;
        if (changes < RETENTION_BATCH) break;
      }
    }
  }
  return { deleted, complete: true };
}

/** The daily part of the every-minute cron: once per UTC day from 03:00 (see `oncePerDay`). */
export function runDailyLogsRetention(env: Env, now = Date.now()): Promise<RetentionResult | null> {
  return oncePerDay(env, LAST_RUN_KEY, now, () => purgeExpiredLogs(createDb(env.DB), now));
}
