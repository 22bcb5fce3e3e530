import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { iso } from "../lib/time";
import { type CompiledFilters, compileFilters } from "./filters";
import { counterConditions, type LogsFilterInput, MINUTE_US, NO_VALUE, recordConditions, scanMatching, toMicros } from "./scan.queries";
import { addCount } from "./write.queries";

/**
 * Logs of a project in `[from, to)` (Dates or epoch milliseconds) matching `filters` (the alert
 * filter shape: severityLevels, serviceNames, filterGroup, and searchTerm). Severity/service-only
 * filters read the per-minute counters for whole minutes and the time index for the partial
 * minutes at either end, so an alert's window costs a few dozen index rows however many logs it holds.
 */
export async function countLogs(
  db: Db,
  projectId: number,
  filters: LogsFilterInput,
  from: Date | number,
  to: Date | number,
): Promise<number> {
  return countLogsCompiled(db, projectId, compileFilters(filters, "filters"), toMicros(from), toMicros(to));
}

/** `countLogs` for already compiled filters and a microsecond range. */
export async function countLogsCompiled(
  db: Db,
  projectId: number,
  compiled: CompiledFilters,
  fromUs: number,
  toUs: number,
): Promise<number> {
  if (fromUs >= toUs) return 0;
  if (compiled.predicates.length) {
    let n = 0;
    await scanMatching(db, projectId, compiled, fromUs, toUs, () => n++);
    return n;
  }
  const rawCount = (a: number, b: number) => sql`(SELECT count(*) FROM log_records WHERE ${recordConditions(projectId, compiled, a, b)})`;
  const firstMinute = Math.ceil(fromUs / MINUTE_US);
  const endMinute = Math.floor(toUs / MINUTE_US);
  let expression: SQL;
  if (!compiled.countable || firstMinute >= endMinute) {
    expression = rawCount(fromUs, toUs);
  } else {
    const parts = [
      sql`(SELECT coalesce(sum(count), 0) FROM log_minute_counts WHERE ${counterConditions(projectId, compiled, firstMinute, endMinute)})`,
    ];
    if (fromUs < firstMinute * MINUTE_US) parts.push(rawCount(fromUs, firstMinute * MINUTE_US));
    if (endMinute * MINUTE_US < toUs) parts.push(rawCount(endMinute * MINUTE_US, toUs));
    expression = sql.join(parts, sql` + `);
  }
  const row = await db.get<{ n: number }>(sql`SELECT ${expression} AS n`);
  return row?.n ?? 0;
}

export const SPARKLINE_INTERVALS_S = [1, 5, 10, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400];
export const SPARKLINE_BUCKET_TARGET = 50;

/** PostHog's choice: the round interval closest to a fiftieth of the range. */
export function sparklineInterval(rangeUs: number): number {
  const target = rangeUs / 1e6 / SPARKLINE_BUCKET_TARGET;
  let best = SPARKLINE_INTERVALS_S[0] as number;
  for (const candidate of SPARKLINE_INTERVALS_S) {
    if (Math.abs(candidate - target) < Math.abs(best - target)) best = candidate;
  }
  return best;
}

export type SparklineBreakdown = "severity" | "service";
export interface SparklinePoint {
  time: string;
  severity?: string;
  service?: string;
  count: number;
}

/** Counts per time bucket and severity (or service), oldest bucket first; empty buckets are omitted. */
export async function sparkline(
  db: Db,
  projectId: number,
  compiled: CompiledFilters,
  fromUs: number,
  toUs: number,
  breakdown: SparklineBreakdown,
) {
  const interval = sparklineInterval(toUs - fromUs);
  const column = breakdown === "severity" ? "severity_text" : "service_name";
  // Inlined, not bound: D1 binds JS numbers as REAL, which would turn the bucket division fractional.
  const intervalS = sql.raw(String(interval));
  const intervalUs = sql.raw(String(interval * 1_000_000));
  const buckets = new Map<string, number>();
  const add = (bucketSeconds: number, value: string, n: number) => addCount(buckets, JSON.stringify([bucketSeconds, value]), n);

  if (compiled.predicates.length) {
    await scanMatching(db, projectId, compiled, fromUs, toUs, (row) => {
      add(Math.floor(row.timestamp / 1e6 / interval) * interval, row[column], 1);
    });
  } else {
    const rawBuckets = (a: number, b: number) =>
      sql`SELECT (timestamp / ${intervalUs}) * ${intervalS} AS bucket, ${sql.raw(column)} AS value, count(*) AS n
        FROM log_records WHERE ${recordConditions(projectId, compiled, a, b)} GROUP BY bucket, value`;
    const firstMinute = Math.ceil(fromUs / MINUTE_US);
    const endMinute = Math.floor(toUs / MINUTE_US);
    const parts: SQL[] = [];
    if (compiled.countable && interval >= 60 && firstMinute < endMinute) {
      parts.push(sql`SELECT (minute * 60 / ${intervalS}) * ${intervalS} AS bucket, ${sql.raw(column)} AS value, sum(count) AS n
        FROM log_minute_counts WHERE ${counterConditions(projectId, compiled, firstMinute, endMinute)} GROUP BY bucket, value`);
      if (fromUs < firstMinute * MINUTE_US) parts.push(rawBuckets(fromUs, firstMinute * MINUTE_US));
      if (endMinute * MINUTE_US < toUs) parts.push(rawBuckets(endMinute * MINUTE_US, toUs));
    } else {
      parts.push(rawBuckets(fromUs, toUs));
    }
    const rows = await db.all<{ bucket: number; value: string; n: number }>(sql.join(parts, sql` UNION ALL `));
    for (const row of rows) add(row.bucket, row.value, row.n);
  }

  return [...buckets]
    .map(([key, count]) => {
      const [bucket, value] = JSON.parse(key) as [number, string];
      return { bucket, value: value === "" ? NO_VALUE : value, count };
    })
    .sort((a, b) => a.bucket - b.bucket || a.value.localeCompare(b.value))
    .map(({ bucket, value, count }): SparklinePoint => ({ time: iso(bucket * 1000) as string, [breakdown]: value, count }));
}
