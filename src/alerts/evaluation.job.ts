import { and, asc, eq, inArray, lt, lte, sql } from "drizzle-orm";
import { createDb, type Db } from "../db/client";
import { logsAlertEvents, logsAlertJobRuns, logsAlerts } from "../db/schema";
import type { Env } from "../env";
import { type AlertRow, floorMinute } from "./alerts.queries";
import type { CheckResult } from "./logs-alert.object";

const PAGE_SIZE = 500;
/** Checks in flight at once: each is a Durable Object call doing one count and one D1 batch. */
export const CHECK_CONCURRENCY = 64;
const EVENT_RETENTION_MS = 90 * 24 * 60 * 60 * 1000;
const EVENT_PRUNE_LIMIT = 5000;

export interface EvaluationSummary {
  windowEnd: number;
  due: number;
  checked: number;
  duplicates: number;
  stale: number;
  skipped: number;
  failed: number;
  notifications: number;
  checkP50Ms: number | null;
  checkP95Ms: number | null;
}

/** Due alerts in `(next_check_at, id)` order, a page at a time, the next page read while this one is checked. */
async function* dueAlerts(db: Db, windowEnd: number): AsyncGenerator<AlertRow> {
  const page = (after: AlertRow | null) =>
    db
      .select()
      .from(logsAlerts)
      .where(
        and(
          lte(logsAlerts.nextCheckAt, new Date(windowEnd)),
          eq(logsAlerts.enabled, true),
          after ? sql`(${logsAlerts.nextCheckAt}, ${logsAlerts.id}) > (${after.nextCheckAt?.getTime()}, ${after.id})` : undefined,
        ),
      )
      .orderBy(asc(logsAlerts.nextCheckAt), asc(logsAlerts.id))
      .limit(PAGE_SIZE);
  let pending: Promise<AlertRow[]> | null = page(null);
  while (pending) {
    const rows: AlertRow[] = await pending;
    const last = rows.at(-1);
    pending = rows.length === PAGE_SIZE && last ? page(last) : null;
    yield* rows;
  }
}

const percentile = (sorted: number[], p: number) => (sorted.length ? (sorted[Math.ceil((p / 100) * sorted.length) - 1] ?? null) : null);

/**
 * The cron's alert job: every enabled alert whose `next_check_at` has come is handed the window
 * ending at this tick's minute, through its Durable Object, CHECK_CONCURRENCY at a time. The window
 * end is the idempotency key, so a repeated tick is harmless, and a tick after missed ones
 * evaluates the current window once (`next_check_at` then moves one interval past it).
 */
export async function evaluateDueAlerts(env: Env, scheduledTime: number, concurrency = CHECK_CONCURRENCY): Promise<EvaluationSummary> {
  const windowEnd = floorMinute(scheduledTime);
  const db = createDb(env.DB);
  const startedAt = new Date();
  const summary: EvaluationSummary = {
    windowEnd,
    due: 0,
    checked: 0,
    duplicates: 0,
    stale: 0,
    skipped: 0,
    failed: 0,
    notifications: 0,
    checkP50Ms: null,
    checkP95Ms: null,
  };
  const durations: number[] = [];
  const source = dueAlerts(db, windowEnd);

  const worker = async () => {
    for await (const alert of source) {
      summary.due++;
      const started = Date.now();
      let result: CheckResult;
      try {
        result = await env.LOGS_ALERTS.get(env.LOGS_ALERTS.idFromName(alert.id)).check({ windowEnd, alert });
      } catch (error) {
        summary.failed++;
        console.error(`logs alert ${alert.id}: check of ${new Date(windowEnd).toISOString()} failed`, error);
        continue;
      }
      durations.push(Date.now() - started);
      if (result.status === "checked") {
        summary.checked++;
        if (result.published) summary.notifications++;
      } else if (result.status === "duplicate") summary.duplicates++;
      else if (result.status === "stale") summary.stale++;
      else summary.skipped++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));

  durations.sort((a, b) => a - b);
  summary.checkP50Ms = percentile(durations, 50);
  summary.checkP95Ms = percentile(durations, 95);
  const run = {
    startedAt,
    finishedAt: new Date(),
    due: summary.due,
    checked: summary.checked,
    skipped: summary.duplicates + summary.stale + summary.skipped,
    failed: summary.failed,
    notifications: summary.notifications,
    checkP50Ms: summary.checkP50Ms,
    checkP95Ms: summary.checkP95Ms,
  };
  await db.batch([
    db
      .insert(logsAlertJobRuns)
      .values({ windowEnd: new Date(windowEnd), ...run })
      .onConflictDoUpdate({ target: logsAlertJobRuns.windowEnd, set: run }),
    // Events are kept 90 days; a bounded delete per tick keeps up with any realistic rate.
    db
      .delete(logsAlertEvents)
      .where(
        inArray(
          logsAlertEvents.id,
          db
            .select({ id: logsAlertEvents.id })
            .from(logsAlertEvents)
            .where(lt(logsAlertEvents.createdAt, new Date(windowEnd - EVENT_RETENTION_MS)))
            .limit(EVENT_PRUNE_LIMIT),
        ),
      ),
  ]);
  return summary;
}
