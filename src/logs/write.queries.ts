import { sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client";
import { logAttributeKeys, logAttributeValues, logMinuteCounts, logRecords } from "../db/schema";
import type { LogRow } from "./otlp";
import { HOUR_US, MINUTE_US } from "./scan.queries";

/** Characters of JSON per bound parameter: far below D1's 2 MB value limit even for 3-byte UTF-8. */
export const JSON_CHUNK_CHARS = 600_000;
/** Longer attribute keys / values are stored on the record but not indexed for `attributes/` and `values/`. */
export const MAX_INDEXED_LENGTH = 256;
/**
 * Distinct values of one key indexed per hour and service in one ingestion request, the most frequent first. High-
 * cardinality keys (ids, durations) would otherwise cost an index upsert per record; `values/`
 * ranks by frequency anyway.
 */
export const MAX_INDEXED_VALUES_PER_KEY = 100;
export function chunkByJsonSize<T>(items: T[]): string[] {
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

export function addCount(map: Map<string, number>, key: string, n = 1) {
  map.set(key, (map.get(key) ?? 0) + n);
}

/** Key and value counts of the attributes of one (type, hour, service): key -> count and value -> count. */
export interface AttributeBucket {
  type: "log" | "resource";
  hour: number;
  service: string;
  keys: Map<string, { n: number; values: Map<string, number> }>;
}

export function countAttributes(bucket: AttributeBucket, attributes: Record<string, string>, n: number) {
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
export function attributeRows(buckets: Iterable<AttributeBucket>) {
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
