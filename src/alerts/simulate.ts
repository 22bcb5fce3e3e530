import type { z } from "@hono/zod-openapi";
import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import type { LogsAlertFilters } from "../db/schema";
import { validationError } from "../lib/errors";
import { isoRequired } from "../lib/time";
import { type CompiledFilters, compileFilters, listLogs, MAX_REGEX_SCAN, parseDate, parseIsoMicros } from "../logs";
import { type AlertMachine, type AlertRules, evaluate } from "./alert.machine";
import { checkIntervalMinutes, floorMinute, MINUTE_MS, validateFilters } from "./alerts.queries";
import type { SimulateSchema } from "./alerts.schemas";

const MAX_DAYS_BACK = 30;
const MAX_BUCKETS = 15_000;
const MINUTE_US = 60_000_000;

type SimulateInput = z.infer<typeof SimulateSchema>;

/** Logs per minute (minutes since the epoch) in `[fromMinute, toMinute)`, through the logs filters and their indexes. */
async function countsPerMinute(db: Db, projectId: number, compiled: CompiledFilters, fromMinute: number, toMinute: number) {
  const counts = new Map<number, number>();
  if (compiled.predicates.length) {
    // Regex filters run in the Worker: page through the matching logs.
    let after: string | undefined;
    let seen = 0;
    for (;;) {
      const page = await listLogs(db, projectId, compiled, {
        fromUs: fromMinute * MINUTE_US,
        toUs: toMinute * MINUTE_US,
        orderBy: "earliest",
        limit: 1000,
        after,
        attrPrefix: "filters",
      });
      for (const log of page.results) {
        const minute = Math.floor((parseIsoMicros(log.timestamp) ?? 0) / MINUTE_US);
        counts.set(minute, (counts.get(minute) ?? 0) + 1);
      }
      seen += page.results.length;
      if (seen > MAX_REGEX_SCAN) {
        throw validationError("Too many logs match these regex filters to simulate; narrow date_from.", "date_from", "too_many_rows");
      }
      if (!page.hasMore || !page.nextCursor) return counts;
      after = page.nextCursor;
    }
  }
  const conditions: SQL[] = [sql`project_id = ${projectId}`, ...compiled.where];
  // Severity/service filters are answered by the per-minute counters, the rest by the records' time index.
  const query = compiled.countable
    ? sql`SELECT minute, sum(count) AS n FROM log_minute_counts
        WHERE ${sql.join([...conditions, sql`minute >= ${fromMinute}`, sql`minute < ${toMinute}`], sql` AND `)} GROUP BY minute`
    : // A bound number arrives as REAL, which would make the division fractional: the divisor is inlined.
      sql`SELECT timestamp / ${sql.raw(String(MINUTE_US))} AS minute, count(*) AS n FROM log_records
        WHERE ${sql.join([...conditions, sql`timestamp >= ${fromMinute * MINUTE_US}`, sql`timestamp < ${toMinute * MINUTE_US}`], sql` AND `)}
        GROUP BY minute`;
  for (const row of await db.all<{ minute: number; n: number }>(query)) counts.set(row.minute, row.n);
  return counts;
}

function dateMs(text: string, now: number, attr: string): number {
  return Math.floor(parseDate(text, now, attr) / 1000);
}

/**
 * Replays an alert configuration over stored logs: one bucket per check time (every check
 * interval back from date_to, each counting the window that ends there), run through the same state machine as the
 * live checks, from not_firing. Counts are notifications that would have been sent.
 */
export async function simulate(db: Db, projectId: number, input: SimulateInput, now: number) {
  validateFilters(input.filters as LogsAlertFilters, true, now);
  if (input.datapoints_to_alarm > input.evaluation_periods) {
    throw validationError("datapoints_to_alarm must be less than or equal to evaluation_periods.", "datapoints_to_alarm");
  }
  const from = dateMs(input.date_from, now, "date_from");
  const to = input.date_to ? dateMs(input.date_to, now, "date_to") : now;
  if (from < now - MAX_DAYS_BACK * 24 * 60 * MINUTE_MS)
    throw validationError(`date_from can be at most ${MAX_DAYS_BACK} days back.`, "date_from");
  if (from >= to) throw validationError("date_from must be before date_to.", "date_from");

  const windowMs = input.window_minutes * MINUTE_MS;
  const intervalMs = checkIntervalMinutes(input.window_minutes) * MINUTE_MS;
  // Anchored at date_to and stepping back, as a live check's window ends at its tick: the most
  // recent logs are always in the last bucket, whatever date_from is.
  const earliest = floorMinute(from + MINUTE_MS - 1) + windowMs;
  const last = floorMinute(to);
  const total = earliest > last ? 0 : Math.floor((last - earliest) / intervalMs) + 1;
  const first = last - (total - 1) * intervalMs;
  if (total > MAX_BUCKETS) {
    throw validationError(`This range needs ${total} checks; at most ${MAX_BUCKETS} can be simulated. Narrow date_from.`, "date_from");
  }

  const compiled = compileFilters(input.filters, "filters", now);
  const perMinute = total ? await countsPerMinute(db, projectId, compiled, (first - windowMs) / MINUTE_MS, last / MINUTE_MS) : new Map();
  const rules: AlertRules = {
    thresholdCount: input.threshold_count,
    thresholdOperator: input.threshold_operator,
    evaluationPeriods: input.evaluation_periods,
    datapointsToAlarm: input.datapoints_to_alarm,
    cooldownMinutes: input.cooldown_minutes,
    snoozeUntil: null,
  };
  let machine: AlertMachine = { state: "not_firing", consecutiveFailures: 0, lastNotifiedAt: null, recentBreaches: [] };
  const buckets = [];
  let fireCount = 0;
  let resolveCount = 0;
  for (let i = 0; i < total; i++) {
    const end = first + i * intervalMs;
    let count = 0;
    for (let m = (end - windowMs) / MINUTE_MS; m < end / MINUTE_MS; m++) count += perMinute.get(m) ?? 0;
    const result = evaluate(rules, machine, { ok: true, count }, end);
    machine = result.machine;
    const notification = result.notification === "firing" || result.notification === "resolved" ? result.notification : null;
    if (notification === "firing") fireCount++;
    if (notification === "resolved") resolveCount++;
    buckets.push({
      timestamp: isoRequired(end),
      count,
      threshold_breached: result.breached === true,
      state: machine.state,
      notification,
      reason: result.reason,
    });
  }
  return { buckets, fire_count: fireCount, resolve_count: resolveCount, total_buckets: total };
}
