import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { validationError } from "../lib/errors";
import { type CompiledFilters, matchesPredicates, type PredicateRow } from "./filters";
import type { LogsFilters } from "./logs.schemas";

export const MINUTE_US = 60_000_000;
export const HOUR_US = 3_600_000_000;
/** Rows read per page while regex filters are evaluated in the Worker. */
export const SCAN_PAGE = 1000;
/** Candidate rows a regex query page, count or sparkline may read before it gives up. */
export const MAX_REGEX_SCAN = 200_000;
export const NO_VALUE = "(no value)";

export type LogsFilterInput = Partial<Pick<LogsFilters, "severityLevels" | "serviceNames" | "searchTerm" | "filterGroup">>;

export const toMicros = (t: Date | number) => (t instanceof Date ? t.getTime() : t) * 1000;

export function recordConditions(projectId: number, compiled: CompiledFilters, fromUs: number, toUs: number): SQL {
  return sql.join([sql`project_id = ${projectId}`, sql`timestamp >= ${fromUs}`, sql`timestamp < ${toUs}`, ...compiled.where], sql` AND `);
}

export function counterConditions(projectId: number, compiled: CompiledFilters, fromMinute: number, toMinute: number): SQL {
  return sql.join([sql`project_id = ${projectId}`, sql`minute >= ${fromMinute}`, sql`minute < ${toMinute}`, ...compiled.where], sql` AND `);
}

export const PREDICATE_COLUMNS = sql.raw(
  "timestamp, uuid, body, severity_text, trace_id, span_id, service_name, event_name, attributes, resource_attributes",
);
export type ScannedRow = PredicateRow & { timestamp: number; uuid: string };

/** Every candidate row of `[fromUs, toUs)` in time order, filtered by the regex predicates in the Worker. */
export async function scanMatching(
  db: Db,
  projectId: number,
  compiled: CompiledFilters,
  fromUs: number,
  toUs: number,
  onRow: (row: ScannedRow) => void,
) {
  let cursor: { timestamp: number; uuid: string } | null = null;
  let scanned = 0;
  for (;;) {
    const after: SQL = cursor ? sql` AND (timestamp, uuid) > (${cursor.timestamp}, ${cursor.uuid})` : sql``;
    const page: ScannedRow[] = await db.all<ScannedRow>(
      sql`SELECT ${PREDICATE_COLUMNS} FROM log_records WHERE ${recordConditions(projectId, compiled, fromUs, toUs)}${after}
        ORDER BY timestamp, uuid LIMIT ${SCAN_PAGE}`,
    );
    scanned += page.length;
    if (scanned > MAX_REGEX_SCAN) {
      throw validationError(
        `Regex filters can examine at most ${MAX_REGEX_SCAN} logs per request; narrow the date range or add other filters.`,
        null,
        "too_many_rows",
      );
    }
    for (const row of page) if (matchesPredicates(row, compiled.predicates)) onRow(row);
    const last = page.at(-1);
    if (page.length < SCAN_PAGE || !last) return;
    cursor = last;
  }
}
