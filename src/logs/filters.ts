import { type SQL, sql } from "drizzle-orm";
import { RE2JS, RE2JSException } from "re2js";
import { inList } from "../db/in-list";
import { validationError } from "../lib/errors";
import { parseDate } from "./dates";
import type { FilterOperator, LogFilterGroup, LogPropertyFilter, LogsFilters } from "./logs.schemas";

/** Columns a `type: "log"` filter may name (PostHog's `message` is the body). */
const LOG_FIELDS = {
  message: "body",
  body: "body",
  severity_text: "severity_text",
  severity_level: "severity_text",
  level: "severity_text",
  trace_id: "trace_id",
  span_id: "span_id",
  service_name: "service_name",
  event_name: "event_name",
} as const;
type LogColumn = (typeof LOG_FIELDS)[keyof typeof LOG_FIELDS];

type Field = { kind: "column"; column: LogColumn } | { kind: "attribute"; source: "attributes" | "resource_attributes"; key: string };

/**
 * A regex leaf: SQLite in D1 has no REGEXP, so these run in the Worker on candidate rows, with RE2
 * (PostHog's ClickHouse `match` semantics) in time linear in the text: a backtracking engine lets
 * one pattern like `(a+)+$` hold the isolate for seconds.
 */
export interface RegexPredicate {
  field: Field;
  regex: RE2JS;
  negate: boolean;
}

export interface CompiledFilters {
  /** Conditions on `log_records` besides project and time, all of which must hold. */
  where: SQL[];
  predicates: RegexPredicate[];
  /** Only severity / service conditions: the per-minute counters can answer counts. */
  countable: boolean;
  severityLevels: string[];
  serviceNames: string[];
}

/** The columns a candidate row needs so `matchesPredicates` can evaluate it. */
export interface PredicateRow {
  body: string;
  severity_text: string;
  trace_id: string | null;
  span_id: string | null;
  service_name: string;
  event_name: string;
  attributes: string;
  resource_attributes: string;
}

type Leaf = { filter: LogPropertyFilter; attr: string };
type Node = { op: "AND" | "OR"; children: (Node | Leaf)[] };

const isLeaf = (node: Node | Leaf): node is Leaf => "filter" in node;

function groupTree(group: LogFilterGroup, attr: string): Node {
  if (Array.isArray(group)) return { op: "AND", children: group.map((filter, i) => ({ filter, attr: `${attr}__${i}` })) };
  return {
    op: group.type,
    children: group.values.map((value, i) =>
      "key" in value
        ? { filter: value, attr: `${attr}__values__${i}` }
        : { op: value.type, children: value.values.map((filter, j) => ({ filter, attr: `${attr}__values__${i}__values__${j}` })) },
    ),
  };
}

function leafCount(node: Node): number {
  return node.children.reduce((n, child) => n + (isLeaf(child) ? 1 : leafCount(child)), 0);
}

export function likeContains(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function jsonPath(key: string): string {
  return `$."${key.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

function resolveField(filter: LogPropertyFilter, attr: string): Field {
  if (filter.type === "log") {
    const column = LOG_FIELDS[filter.key as keyof typeof LOG_FIELDS];
    if (!column)
      throw validationError(`Unknown log field "${filter.key}"; use one of ${Object.keys(LOG_FIELDS).join(", ")}.`, `${attr}__key`);
    return { kind: "column", column };
  }
  return { kind: "attribute", source: filter.type === "log_attribute" ? "attributes" : "resource_attributes", key: filter.key };
}

function fieldText(field: Field): SQL {
  if (field.kind === "column") return sql.raw(`coalesce(${field.column}, '')`);
  return sql`coalesce(json_extract(${sql.raw(field.source)}, ${jsonPath(field.key)}), '')`;
}

function fieldIsSet(field: Field): SQL {
  if (field.kind === "column") return sql.raw(`coalesce(${field.column}, '') <> ''`);
  return sql`json_type(${sql.raw(field.source)}, ${jsonPath(field.key)}) IS NOT NULL`;
}

type Scalar = string | number | boolean;

function scalarValue(filter: LogPropertyFilter, attr: string): Scalar {
  const { value } = filter;
  if (value === undefined || value === null || Array.isArray(value)) {
    throw validationError(`The ${filter.operator} operator needs a single value.`, `${attr}__value`);
  }
  return value;
}

function valueList(filter: LogPropertyFilter, field: Field, attr: string): string[] {
  const { value } = filter;
  if (value === undefined || value === null) throw validationError(`The ${filter.operator} operator needs a value.`, `${attr}__value`);
  const values = (Array.isArray(value) ? value : [value]).map(String);
  const ids = field.kind === "column" && (field.column === "trace_id" || field.column === "span_id");
  return ids ? values.map((v) => v.toLowerCase()) : values;
}

function isNumeric(value: Scalar): value is number | string {
  return typeof value === "number" || (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value)));
}

/** RE2 syntax: inline flags like `(?i)`; backreferences and lookaround do not exist in it (400). */
function compileRegex(source: string, attr: string): RE2JS {
  try {
    return RE2JS.compile(source);
  } catch (error) {
    if (!(error instanceof RE2JSException)) throw error;
    throw validationError(`Invalid or unsupported regular expression (RE2 syntax): ${error.message}`, `${attr}__value`);
  }
}

function dateCondition(text: SQL, operator: FilterOperator, value: Scalar, attr: string, now: number): SQL {
  const raw = String(value);
  if (operator === "is_date_exact" && /^\d{4}-\d{2}-\d{2}$/.test(raw)) return sql`date(${text}) = ${raw}`;
  const seconds = parseDate(raw, now, `${attr}__value`) / 1e6;
  if (operator === "is_date_exact") return sql`unixepoch(${text}) = ${Math.floor(seconds)}`;
  return operator === "is_date_before" ? sql`unixepoch(${text}, 'subsec') < ${seconds}` : sql`unixepoch(${text}, 'subsec') > ${seconds}`;
}

/**
 * Non-empty printable ASCII without quote or backslash (an empty value also matches a missing
 * key): every JSON encoder writes such a string as itself between quotes, so `"value"` occurs in
 * the attributes text of every matching row. That substring test is far cheaper than parsing each
 * candidate's JSON (a rare user id over an hour of logs: about 40% less time); the exact test decides.
 */
const PLAIN_TEXT = /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/;
/** The substring pre-test binds one parameter per value: only for short lists (D1 binds at most 100 per statement). */
const PRECHECKED_VALUES = 5;

function leafCondition(leaf: Leaf, inOr: boolean, predicates: RegexPredicate[], now: number): SQL {
  const { filter, attr } = leaf;
  const field = resolveField(filter, attr);
  const text = fieldText(field);
  switch (filter.operator) {
    case "exact":
    case "is_not": {
      const values = valueList(filter, field, attr);
      if (!values.length) return filter.operator === "exact" ? sql`0` : sql`1`;
      if (filter.operator === "is_not") return sql`NOT ${inList(text, values)}`;
      return field.kind === "attribute" && values.length <= PRECHECKED_VALUES && values.every((v) => PLAIN_TEXT.test(v))
        ? sql`((${sql.join(
            values.map((v) => sql`instr(${sql.raw(field.source)}, ${JSON.stringify(v)}) > 0`),
            sql` OR `,
          )}) AND ${inList(text, values)})`
        : inList(text, values);
    }
    case "icontains":
      return sql`${text} LIKE ${likeContains(String(scalarValue(filter, attr)))} ESCAPE '\\'`;
    case "not_icontains":
      return sql`${text} NOT LIKE ${likeContains(String(scalarValue(filter, attr)))} ESCAPE '\\'`;
    case "regex":
    case "not_regex": {
      if (inOr) throw validationError("regex and not_regex filters can only be combined with AND.", `${attr}__operator`);
      predicates.push({ field, regex: compileRegex(String(scalarValue(filter, attr)), attr), negate: filter.operator === "not_regex" });
      return sql`1`;
    }
    case "gt":
    case "lt": {
      const value = scalarValue(filter, attr);
      const op = sql.raw(filter.operator === "gt" ? ">" : "<");
      if (!isNumeric(value)) return sql`${text} ${op} ${String(value)}`;
      // Attribute values are stored as text: compare numerically only where the text is a JSON number.
      return sql`(CASE WHEN json_valid(${text}) AND json_type(${text}) IN ('integer', 'real') THEN CAST(${text} AS REAL) END) ${op} ${Number(value)}`;
    }
    case "is_date_exact":
    case "is_date_before":
    case "is_date_after":
      return dateCondition(text, filter.operator, scalarValue(filter, attr), attr, now);
    case "is_set":
      return fieldIsSet(field);
    case "is_not_set":
      return sql`NOT (${fieldIsSet(field)})`;
  }
}

function nodeCondition(node: Node, inOr: boolean, predicates: RegexPredicate[], now: number): SQL {
  if (!node.children.length) return sql`1`;
  const orHere = inOr || (node.op === "OR" && node.children.length > 1);
  const parts = node.children.map((child) =>
    isLeaf(child) ? leafCondition(child, orHere, predicates, now) : nodeCondition(child, orHere, predicates, now),
  );
  return sql`(${sql.join(parts, sql.raw(node.op === "OR" ? " OR " : " AND "))})`;
}

/**
 * Turns PostHog's logs filters into SQL over `log_records` (plus the regex leaves D1 cannot run).
 * Every bad value is a 400 whose `attr` points at it, e.g. `query__filterGroup__2__value`.
 */
export function compileFilters(filters: Partial<LogsFilters>, attrPrefix: string, now = Date.now()): CompiledFilters {
  const where: SQL[] = [];
  const predicates: RegexPredicate[] = [];
  const severityLevels = [...new Set(filters.severityLevels ?? [])];
  const serviceNames = [...new Set(filters.serviceNames ?? [])];
  if (severityLevels.length) where.push(inList(sql`severity_text`, severityLevels));
  if (serviceNames.length) where.push(inList(sql`service_name`, serviceNames));
  let countable = true;
  if (filters.searchTerm) {
    where.push(sql`body LIKE ${likeContains(filters.searchTerm)} ESCAPE '\\'`);
    countable = false;
  }
  if (filters.filterGroup) {
    const tree = groupTree(filters.filterGroup, attrPrefix ? `${attrPrefix}__filterGroup` : "filterGroup");
    if (leafCount(tree) > 0) {
      where.push(nodeCondition(tree, false, predicates, now));
      countable = false;
    }
  }
  return { where, predicates, countable, severityLevels, serviceNames };
}

type ParsedAttributes = { attributes?: Record<string, string>; resource_attributes?: Record<string, string> };

function fieldValue(row: PredicateRow, field: Field, parsed: ParsedAttributes): string {
  if (field.kind === "column") return row[field.column] ?? "";
  parsed[field.source] ??= JSON.parse(row[field.source]) as Record<string, string>;
  return parsed[field.source]?.[field.key] ?? "";
}

export function matchesPredicates(row: PredicateRow, predicates: RegexPredicate[]): boolean {
  const parsed: ParsedAttributes = {};
  return predicates.every((p) => p.regex.test(fieldValue(row, p.field, parsed)) !== p.negate);
}
