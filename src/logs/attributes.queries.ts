import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { inList } from "../db/in-list";
import { type CompiledFilters, likeContains } from "./filters";
import { collectLogs } from "./list.queries";
import { HOUR_US } from "./scan.queries";

export interface LookupOptions {
  attributeType: "log" | "resource";
  fromUs: number;
  toUs: number;
  serviceNames: string[];
}

export function hourConditions(projectId: number, options: LookupOptions): SQL {
  const conditions = [
    sql`project_id = ${projectId}`,
    sql`attribute_type = ${options.attributeType}`,
    sql`hour >= ${Math.floor(options.fromUs / HOUR_US)}`,
    sql`hour <= ${Math.floor((options.toUs - 1) / HOUR_US)}`,
  ];
  if (options.serviceNames.length) conditions.push(inList(sql`service_name`, options.serviceNames));
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
  // The page and its total in one statement (one round trip): the page's keys as a JSON array, in order.
  const row = await db.get<{ keys: string; n: number }>(
    sql`SELECT (SELECT json_group_array(key) FROM (SELECT key FROM log_attribute_keys WHERE ${where} GROUP BY key
        ORDER BY lower(key) = lower(${options.search ?? ""}) DESC, sum(count) DESC, key ASC LIMIT ${options.limit} OFFSET ${options.offset})) AS keys,
      (SELECT count(DISTINCT key) FROM log_attribute_keys WHERE ${where}) AS n`,
  );
  return { keys: JSON.parse(row?.keys ?? "[]") as string[], count: row?.n ?? 0 };
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
