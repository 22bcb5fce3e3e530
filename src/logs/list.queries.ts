import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { validationError } from "../lib/errors";
import { isoMicros, parseIsoMicros } from "./dates";
import { type CompiledFilters, matchesPredicates, type PredicateRow } from "./filters";
import { MAX_REGEX_SCAN, recordConditions, SCAN_PAGE } from "./scan.queries";
import type { SeverityLevel } from "./severity";

export const MAX_EXPORTABLE_LOGS = 10_000;
export const SELECT_COLUMNS = sql.raw(
  "uuid, timestamp, observed_timestamp, body, severity_text, severity_number, service_name, trace_id, span_id, trace_flags, attributes, resource_attributes, instrumentation_scope, event_name",
);

export interface RecordRow extends PredicateRow {
  severity_text: SeverityLevel;
  uuid: string;
  timestamp: number;
  observed_timestamp: number;
  severity_number: number;
  trace_flags: number;
  instrumentation_scope: string;
}

export function serializeLog(row: RecordRow) {
  return {
    uuid: row.uuid,
    timestamp: isoMicros(row.timestamp),
    observed_timestamp: isoMicros(row.observed_timestamp),
    body: row.body,
    severity_text: row.severity_text,
    severity_number: row.severity_number,
    level: row.severity_text,
    service_name: row.service_name,
    trace_id: row.trace_id,
    span_id: row.span_id,
    trace_flags: row.trace_flags,
    attributes: JSON.parse(row.attributes) as Record<string, string>,
    resource_attributes: JSON.parse(row.resource_attributes) as Record<string, string>,
    instrumentation_scope: row.instrumentation_scope,
    event_name: row.event_name,
  };
}
export type SerializedLog = ReturnType<typeof serializeLog>;

export interface Cursor {
  timestamp: number;
  uuid: string;
}

/** PostHog's cursor: base64 of `{"timestamp": ISO, "uuid": ...}` for the last row of the page. */
export function encodeCursor(row: Cursor): string {
  return btoa(JSON.stringify({ timestamp: isoMicros(row.timestamp), uuid: row.uuid }));
}

export function decodeCursor(text: string, attr: string): Cursor {
  try {
    const parsed = JSON.parse(atob(text)) as { timestamp?: unknown; uuid?: unknown };
    const timestamp = typeof parsed.timestamp === "string" ? parseIsoMicros(parsed.timestamp) : null;
    if (timestamp !== null && typeof parsed.uuid === "string") return { timestamp, uuid: parsed.uuid };
  } catch {
    // reported below
  }
  throw validationError("Invalid cursor; pass the nextCursor of a previous response.", attr);
}

export interface ListOptions {
  excludeAttributes?: boolean;
  fromUs: number;
  toUs: number;
  orderBy: "latest" | "earliest";
  limit: number;
  after?: string;
  attrPrefix: string;
}

/**
 * One page of logs, newest (or oldest) first, ordered by (timestamp, uuid) so consecutive pages
 * never overlap. With regex filters at most MAX_REGEX_SCAN candidates are read per page; a page cut
 * short by that budget still has `hasMore` and a cursor that resumes the scan where it stopped.
 */
export async function listLogs(db: Db, projectId: number, compiled: CompiledFilters, options: ListOptions) {
  const serialize = options.excludeAttributes
    ? (row: RecordRow) => ({ ...serializeLog(row), attributes: {}, resource_attributes: {} })
    : serializeLog;
  const latest = options.orderBy === "latest";
  const direction = sql.raw(latest ? "DESC" : "ASC");
  let cursor = options.after ? decodeCursor(options.after, `${options.attrPrefix}__after`) : null;
  const results: RecordRow[] = [];
  const fetchSize = compiled.predicates.length ? SCAN_PAGE : options.limit + 1;
  let scanned = 0;
  for (;;) {
    const after: SQL = cursor
      ? latest
        ? sql` AND timestamp <= ${cursor.timestamp} AND (timestamp, uuid) < (${cursor.timestamp}, ${cursor.uuid})`
        : sql` AND timestamp >= ${cursor.timestamp} AND (timestamp, uuid) > (${cursor.timestamp}, ${cursor.uuid})`
      : sql``;
    const page = await db.all<RecordRow>(
      sql`SELECT ${SELECT_COLUMNS} FROM log_records WHERE ${recordConditions(projectId, compiled, options.fromUs, options.toUs)}${after}
        ORDER BY timestamp ${direction}, uuid ${direction} LIMIT ${fetchSize}`,
    );
    scanned += page.length;
    for (const row of page) {
      if (!compiled.predicates.length || matchesPredicates(row, compiled.predicates)) results.push(row);
      if (results.length > options.limit) break;
    }
    const last = page.at(-1);
    if (results.length > options.limit || page.length < fetchSize || !last) break;
    if (scanned >= MAX_REGEX_SCAN) {
      return { results: results.map(serialize), hasMore: true, nextCursor: encodeCursor(last) };
    }
    cursor = last;
  }
  const hasMore = results.length > options.limit;
  const pageRows = results.slice(0, options.limit);
  const lastRow = pageRows.at(-1);
  return { results: pageRows.map(serialize), hasMore, nextCursor: hasMore && lastRow ? encodeCursor(lastRow) : null };
}

/** Rows for an export: the whole (filtered) range in the requested order, at most `max`. */
export async function collectLogs(
  db: Db,
  projectId: number,
  compiled: CompiledFilters,
  options: Omit<ListOptions, "limit" | "after">,
  max: number,
) {
  const rows: SerializedLog[] = [];
  let after: string | undefined;
  while (rows.length < max) {
    const page = await listLogs(db, projectId, compiled, { ...options, limit: Math.min(1000, max - rows.length), after });
    rows.push(...page.results);
    if (!page.hasMore || !page.nextCursor) break;
    after = page.nextCursor;
  }
  return rows;
}

export async function hasLogs(db: Db, projectId: number): Promise<boolean> {
  const row = await db.get<{ one: number }>(sql`SELECT 1 AS one FROM log_minute_counts WHERE project_id = ${projectId} LIMIT 1`);
  return Boolean(row);
}
