import { and, asc, eq, inArray, lt, lte, sql } from "drizzle-orm";
import { createDb, type Db } from "../db/client";
import { logsAlertEvents, logsAlertJobRuns, logsAlerts } from "../db/schema";
import type { Env } from "../env";
import { countLogs } from "../logs/logs.queries";
import { type AlertRow, filtersOf, floorMinute, MINUTE_MS } from "./alerts.queries";
import { BatchedReads } from "./batched-reads";
import { type CheckWrite, commitChecks, type Reschedule } from "./check-writes";
import type { CheckResult } from "./logs-alert.object";
import type { CheckOutcome } from "./state-machine";

const PAGE_SIZE = 500;
/** Alerts whose counts share one D1 batch and whose writes share another. */
const CHUNK_SIZE = 100;
/** Chunks in flight at once. */
export const CHUNK_CONCURRENCY = 4;
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

async function* inChunks<T>(source: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let chunk: T[] = [];
  for await (const item of source) {
    chunk.push(item);
    if (chunk.length === size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length) yield chunk;
}

const percentile = (sorted: number[], p: number) => (sorted.length ? (sorted[Math.ceil((p / 100) * sorted.length) - 1] ?? null) : null);
const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Each alert's window count through the logs query layer (`countLogs`), all of a chunk's queries in shared D1 batches. */
export async function countWindows(env: Env, alerts: AlertRow[], windowEnd: number) {
  const reads = new BatchedReads(env.DB);
  const db = reads.facade(createDb(env.DB));
  const started = Date.now();
  const settled = await reads.run(
    alerts.map((alert) => () => countLogs(db, alert.teamId, filtersOf(alert), windowEnd - alert.windowMinutes * MINUTE_MS, windowEnd)),
  );
  const outcomes = settled.map(
    (s): CheckOutcome => (s.status === "fulfilled" ? { ok: true, count: s.value } : { ok: false, error: message(s.reason) }),
  );
  return { outcomes, durationMs: Date.now() - started };
}

/** Counts a chunk, runs each alert's check in its Durable Object, commits what they return in one D1 batch. */
async function checkChunk(env: Env, chunk: AlertRow[], windowEnd: number, summary: EvaluationSummary, durations: number[]) {
  const started = Date.now();
  const { outcomes, durationMs } = await countWindows(env, chunk, windowEnd);
  const results = await Promise.all(
    chunk.map(async (alert, i): Promise<CheckResult | null> => {
      try {
        const stub = env.LOGS_ALERTS.get(env.LOGS_ALERTS.idFromName(alert.id));
        return await stub.check({
          windowEnd,
          alert,
          outcome: outcomes[i] ?? { ok: false, error: "not counted" },
          queryDurationMs: durationMs,
        });
      } catch (error) {
        summary.failed++;
        console.error(`logs alert ${alert.id}: check of ${new Date(windowEnd).toISOString()} failed`, error);
        return null;
      }
    }),
  );
  const writes: CheckWrite[] = [];
  const reschedules: Reschedule[] = [];
  const current: number[] = [];
  for (const result of results) {
    if (result?.status === "checked" || result?.status === "skipped") writes.push(...result.writes);
    if (result?.status === "checked") current.push(writes.length - 1);
    if (result?.status === "skipped") reschedules.push(result.reschedule);
    if (result?.status === "duplicate") summary.duplicates++;
    if (result?.status === "stale") summary.stale++;
    if (result?.status === "skipped") summary.skipped++;
  }
  try {
    const { applied, published } = await commitChecks(env, writes, reschedules);
    for (const index of current) {
      if (applied[index]) summary.checked++;
      else summary.stale++;
    }
    summary.notifications += published;
  } catch (error) {
    // The objects keep these checks unconfirmed: the next check (or their alarm) writes them again.
    summary.failed += current.length;
    console.error(`logs alerts: committing ${writes.length} checks of ${new Date(windowEnd).toISOString()} failed`, error);
  }
  const elapsed = Date.now() - started;
  for (let i = 0; i < chunk.length; i++) durations.push(elapsed);
}

/**
 * The cron's alert job: every enabled alert whose `next_check_at` has come is handed the window
 * ending at this tick's minute through its Durable Object, in chunks of CHUNK_SIZE (one D1 batch
 * of counts, one call per object, one D1 batch of writes), CHUNK_CONCURRENCY chunks at a time. The
 * window end is the idempotency key, so a repeated tick is harmless, and a tick after missed ones
 * evaluates the current window once (`next_check_at` then moves one interval past it).
 */
export async function evaluateDueAlerts(env: Env, scheduledTime: number, concurrency = CHUNK_CONCURRENCY): Promise<EvaluationSummary> {
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
  const chunks = inChunks(dueAlerts(db, windowEnd), CHUNK_SIZE);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for await (const chunk of chunks) {
        summary.due += chunk.length;
        await checkChunk(env, chunk, windowEnd, summary, durations);
      }
    }),
  );

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
