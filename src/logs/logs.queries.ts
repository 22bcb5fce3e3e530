import { type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client";
import { logAttributeKeys, logAttributeValues, logMinuteCounts, logRecords } from "../db/schema";
import { validationError } from "../lib/errors";
import { iso } from "../lib/time";
import { isoMicros, parseIsoMicros } from "./dates";
import { type CompiledFilters, compileFilters, likeContains, matchesPredicates, type PredicateRow } from "./filters";
import type { LogsFilters } from "./logs.schemas";
import type { LogRow } from "./otlp";
import type { SeverityLevel } from "./severity";

const MINUTE_US = 60_000_000;
const HOUR_US = 3_600_000_000;
/** Characters of JSON per bound parameter: far below D1's 2 MB value limit even for 3-byte UTF-8. */
const JSON_CHUNK_CHARS = 600_000;
/** Longer attribute keys / values are stored on the record but not indexed for `attributes/` and `values/`. */
const MAX_INDEXED_LENGTH = 256;
/**
 * Distinct values of one key indexed per hour and service in one ingestion request, the most frequent first. High-
 * cardinality keys (ids, durations) would otherwise cost an index upsert per record; `values/`
 * ranks by frequency anyway.
 */
export const MAX_INDEXED_VALUES_PER_KEY = 100;
/** Rows read per page while regex filters are evaluated in the Worker. */
const SCAN_PAGE = 1000;
/** Candidate rows a regex query page, count or sparkline may read before it gives up. */
export const MAX_REGEX_SCAN = 200_000;
export const MAX_EXPORTABLE_LOGS = 10_000;
const NO_VALUE = "(no value)";

export type LogsFilterInput = Partial<Pick<LogsFilters, "severityLevels" | "serviceNames" | "searchTerm" | "filterGroup">>;

const toMicros = (t: Date | number) => (t instanceof Date ? t.getTime() : t) * 1000;

function chunkByJsonSize<T>(items: T[]): string[] {
  const whole = JSON.stringify(items);
  if (whole.length <= JSON_CHUNK_CHARS) return items.length ? [whole] : [];
  const chunks: string[] = [];
  let current: string[] = [];
  let size = 0;
  for (const item of items) {
    const json = JSON.stringify(item);
    if (current.length && size + json.length > JSON_CHUNK_CHARS) {
      chunks.push(`[${current.join(",")}]`);
      current = [];
      size = 0;
    }
    current.push(json);
    size += json.length + 1;
  }
  if (current.length) chunks.push(`[${current.join(",")}]`);
  return chunks;
}

function addCount(map: Map<string, number>, key: string, n = 1) {
  map.set(key, (map.get(key) ?? 0) + n);
}

/** Key and value counts of the attributes of one (type, hour, service): key -> count and value -> count. */
interface AttributeBucket {
  type: "log" | "resource";
  hour: number;
  service: string;
  keys: Map<string, { n: number; values: Map<string, number> }>;
}

function countAttributes(bucket: AttributeBucket, attributes: Record<string, string>, n: number) {
  for (const key in attributes) {
    if (key.length > MAX_INDEXED_LENGTH) continue;
    let entry = bucket.keys.get(key);
    if (!entry) {
      entry = { n: 0, values: new Map() };
      bucket.keys.set(key, entry);
    }
    entry.n += n;
    const value = attributes[key] as string;
    if (value.length <= MAX_INDEXED_LENGTH) entry.values.set(value, (entry.values.get(value) ?? 0) + n);
  }
}

/** Key rows `[type, hour, key, service, n]` and value rows `[type, key, hour, value, service, n]`, the most frequent values per key. */
function attributeRows(buckets: Iterable<AttributeBucket>) {
  const keyRows: (string | number)[][] = [];
  const valueRows: (string | number)[][] = [];
  for (const { type, hour, service, keys } of buckets) {
    for (const [key, { n, values }] of keys) {
      keyRows.push([type, hour, key, service, n]);
      let entries = [...values];
      if (entries.length > MAX_INDEXED_VALUES_PER_KEY) {
        entries = entries.sort((x, y) => y[1] - x[1]).slice(0, MAX_INDEXED_VALUES_PER_KEY);
      }
      for (const [value, count] of entries) valueRows.push([type, key, hour, value, service, count]);
    }
  }
  return { keyRows, valueRows };
}

/**
 * The statements that store one ingestion request: the records, their per-minute counters and
 * the attribute key/value index. Each statement binds one JSON array read back with `json_each`,
 * so a 500-record request is a handful of statements (D1 allows 100 bound parameters each) and the
 * caller's `db.batch` makes it all-or-nothing.
 */
export function insertLogsStatements(db: Db, projectId: number, rows: LogRow[]): BatchItem<"sqlite">[] {
  // Nested maps rather than tuple-text keys: this runs for every record of every request.
  const minuteCounts = new Map<string, { minute: number; service: string; severity: string; n: number }>();
  const buckets = new Map<string, AttributeBucket>();
  const bucketFor = (type: "log" | "resource", hour: number, service: string) => {
    const key = `${type}\u0000${hour}\u0000${service}`;
    let bucket = buckets.get(key);
    if (!bucket) {
      bucket = { type, hour, service, keys: new Map() };
      buckets.set(key, bucket);
    }
    return bucket;
  };
  // Records of one OTLP resource share their resource-attribute object: index it once per hour,
  // and insert the records of one service, resource and scope (one OTLP ScopeLogs) with one
  // statement that binds those columns once (fewer JSON values for SQLite to extract per record).
  const resources = new Map<
    Record<string, string>,
    {
      json: string;
      perHour: Map<string, { hour: number; service: string; n: number }>;
      groups: Map<string, { service: string; scope: string; records: unknown[][] }>;
    }
  >();
  let lastBucketKey = "";
  let lastBucket: AttributeBucket | undefined;
  for (const r of rows) {
    const minute = Math.floor(r.timestamp / MINUTE_US);
    const minuteKey = `${minute}\u0000${r.serviceName}\u0000${r.severityText}`;
    const minuteEntry = minuteCounts.get(minuteKey);
    if (minuteEntry) minuteEntry.n++;
    else minuteCounts.set(minuteKey, { minute, service: r.serviceName, severity: r.severityText, n: 1 });
    const hour = Math.floor(r.timestamp / HOUR_US);
    const hourService = `${hour}\u0000${r.serviceName}`;
    if (hourService !== lastBucketKey || !lastBucket) {
      lastBucket = bucketFor("log", hour, r.serviceName);
      lastBucketKey = hourService;
    }
    countAttributes(lastBucket, r.attributes, 1);
    let resource = resources.get(r.resourceAttributes);
    if (!resource) {
      resource = { json: JSON.stringify(r.resourceAttributes), perHour: new Map(), groups: new Map() };
      resources.set(r.resourceAttributes, resource);
    }
    const slot = resource.perHour.get(hourService);
    if (slot) slot.n++;
    else resource.perHour.set(hourService, { hour, service: r.serviceName, n: 1 });
    const groupKey = `${r.serviceName}\u0000${r.instrumentationScope}`;
    let group = resource.groups.get(groupKey);
    if (!group) {
      group = { service: r.serviceName, scope: r.instrumentationScope, records: [] };
      resource.groups.set(groupKey, group);
    }
    group.records.push([
      r.uuid,
      r.timestamp,
      r.observedTimestamp,
      r.severityText,
      r.severityNumber,
      r.body,
      r.traceId,
      r.spanId,
      r.traceFlags,
      r.attributesJson ?? JSON.stringify(r.attributes),
      r.eventName,
    ]);
  }
  for (const [attributes, { perHour }] of resources) {
    for (const { hour, service, n } of perHour.values()) countAttributes(bucketFor("resource", hour, service), attributes, n);
  }

  const statements: BatchItem<"sqlite">[] = [];
  // Columns in table order (drizzle lists them all); `WHERE true` keeps SQLite from reading the
  // upsert's ON CONFLICT as a join constraint of json_each.
  for (const { json: resourceJson, groups } of resources.values()) {
    for (const { service, scope, records } of groups.values()) {
      for (const json of chunkByJsonSize(records)) {
        statements.push(
          db.insert(logRecords).select(
            sql`SELECT NULL, value ->> 0, ${projectId}, value ->> 1, value ->> 2, value ->> 3, value ->> 4, ${service}, value ->> 5,
              value ->> 6, value ->> 7, value ->> 8, value ->> 9, ${resourceJson}, ${scope}, value ->> 10 FROM json_each(${json})`,
          ),
        );
      }
    }
  }
  const { keyRows, valueRows } = attributeRows(buckets.values());
  const increment = { count: sql`count + excluded.count` };
  for (const json of chunkByJsonSize([...minuteCounts.values()].map((m) => [m.minute, m.service, m.severity, m.n]))) {
    statements.push(
      db
        .insert(logMinuteCounts)
        .select(sql`SELECT ${projectId}, value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(${json}) WHERE true`)
        .onConflictDoUpdate({
          target: [logMinuteCounts.projectId, logMinuteCounts.minute, logMinuteCounts.serviceName, logMinuteCounts.severityText],
          set: increment,
        }),
    );
  }
  for (const json of chunkByJsonSize(keyRows)) {
    statements.push(
      db
        .insert(logAttributeKeys)
        .select(
          sql`SELECT ${projectId}, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(${json}) WHERE true`,
        )
        .onConflictDoUpdate({
          target: [
            logAttributeKeys.projectId,
            logAttributeKeys.attributeType,
            logAttributeKeys.hour,
            logAttributeKeys.key,
            logAttributeKeys.serviceName,
          ],
          set: increment,
        }),
    );
  }
  for (const json of chunkByJsonSize(valueRows)) {
    statements.push(
      db
        .insert(logAttributeValues)
        .select(
          sql`SELECT ${projectId}, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 FROM json_each(${json}) WHERE true`,
        )
        .onConflictDoUpdate({
          target: [
            logAttributeValues.projectId,
            logAttributeValues.attributeType,
            logAttributeValues.key,
            logAttributeValues.hour,
            logAttributeValues.value,
            logAttributeValues.serviceName,
          ],
          set: increment,
        }),
    );
  }
  return statements;
}

function recordConditions(projectId: number, compiled: CompiledFilters, fromUs: number, toUs: number): SQL {
  return sql.join([sql`project_id = ${projectId}`, sql`timestamp >= ${fromUs}`, sql`timestamp < ${toUs}`, ...compiled.where], sql` AND `);
}

function counterConditions(projectId: number, compiled: CompiledFilters, fromMinute: number, toMinute: number): SQL {
  return sql.join([sql`project_id = ${projectId}`, sql`minute >= ${fromMinute}`, sql`minute < ${toMinute}`, ...compiled.where], sql` AND `);
}

const PREDICATE_COLUMNS = sql.raw(
  "timestamp, uuid, body, severity_text, trace_id, span_id, service_name, event_name, attributes, resource_attributes",
);
type ScannedRow = PredicateRow & { timestamp: number; uuid: string };

/** Every candidate row of `[fromUs, toUs)` in time order, filtered by the regex predicates in the Worker. */
async function scanMatching(
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

const SELECT_COLUMNS = sql.raw(
  "uuid, timestamp, observed_timestamp, body, severity_text, severity_number, service_name, trace_id, span_id, trace_flags, attributes, resource_attributes, instrumentation_scope, event_name",
);

interface RecordRow extends PredicateRow {
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

interface Cursor {
  timestamp: number;
  uuid: string;
}

/** PostHog's cursor: base64 of `{"timestamp": ISO, "uuid": ...}` for the last row of the page. */
export function encodeCursor(row: Cursor): string {
  return btoa(JSON.stringify({ timestamp: isoMicros(row.timestamp), uuid: row.uuid }));
}

function decodeCursor(text: string, attr: string): Cursor {
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

const SPARKLINE_INTERVALS_S = [1, 5, 10, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400];
const SPARKLINE_BUCKET_TARGET = 50;

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

export async function hasLogs(db: Db, projectId: number): Promise<boolean> {
  const row = await db.get<{ one: number }>(sql`SELECT 1 AS one FROM log_minute_counts WHERE project_id = ${projectId} LIMIT 1`);
  return Boolean(row);
}

export interface LookupOptions {
  attributeType: "log" | "resource";
  fromUs: number;
  toUs: number;
  serviceNames: string[];
}

function hourConditions(projectId: number, options: LookupOptions): SQL {
  const conditions = [
    sql`project_id = ${projectId}`,
    sql`attribute_type = ${options.attributeType}`,
    sql`hour >= ${Math.floor(options.fromUs / HOUR_US)}`,
    sql`hour <= ${Math.floor((options.toUs - 1) / HOUR_US)}`,
  ];
  if (options.serviceNames.length)
    conditions.push(
      sql`service_name IN (${sql.join(
        options.serviceNames.map((s) => sql`${s}`),
        sql`, `,
      )})`,
    );
  return sql.join(conditions, sql` AND `);
}

/** Attribute keys seen in the range (hour granularity): exact match first, then most used. */
export async function listAttributeKeys(
  db: Db,
  projectId: number,
  options: LookupOptions & { search?: string; limit: number; offset: number },
) {
  const conditions = [hourConditions(projectId, options)];
  if (options.search) conditions.push(sql`key LIKE ${likeContains(options.search)} ESCAPE '\\'`);
  const where = sql.join(conditions, sql` AND `);
  const [rows, total] = await Promise.all([
    db.all<{ key: string }>(
      sql`SELECT key FROM log_attribute_keys WHERE ${where} GROUP BY key
        ORDER BY lower(key) = lower(${options.search ?? ""}) DESC, sum(count) DESC, key ASC LIMIT ${options.limit} OFFSET ${options.offset}`,
    ),
    db.get<{ n: number }>(sql`SELECT count(DISTINCT key) AS n FROM log_attribute_keys WHERE ${where}`),
  ]);
  return { keys: rows.map((r) => r.key), count: total?.n ?? 0 };
}

export const VALUES_LIMIT = 100;

/** Values of one attribute key seen in the range, most frequent first, optionally containing `search`. */
export async function listAttributeValues(db: Db, projectId: number, options: LookupOptions & { key: string; search?: string }) {
  const conditions = [hourConditions(projectId, options), sql`key = ${options.key}`];
  if (options.search) conditions.push(sql`value LIKE ${likeContains(options.search)} ESCAPE '\\'`);
  const rows = await db.all<{ value: string; n: number }>(
    sql`SELECT value, sum(count) AS n FROM log_attribute_values WHERE ${sql.join(conditions, sql` AND `)}
      GROUP BY value ORDER BY n DESC, value ASC LIMIT ${VALUES_LIMIT}`,
  );
  return rows.map((r) => ({ value: r.value, count: r.n }));
}

/** Filters other than dates and services narrow `attributes/` and `values/` to a sample of matching logs. */
export const LOOKUP_SAMPLE = 10_000;

/** Attribute maps of the newest LOOKUP_SAMPLE logs matching `compiled` in the range. */
export async function sampleAttributes(db: Db, projectId: number, compiled: CompiledFilters, options: LookupOptions) {
  const rows = await collectLogs(
    db,
    projectId,
    compiled,
    { fromUs: options.fromUs, toUs: options.toUs, orderBy: "latest", attrPrefix: "" },
    LOOKUP_SAMPLE,
  );
  return rows.map((r) => (options.attributeType === "log" ? r.attributes : r.resource_attributes));
}
