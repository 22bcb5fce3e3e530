import { validationError } from "../lib/errors";

// PostHog's detail_filters (posthog/api/advanced_activity_logs/filters.py): a JSON object mapping
// a dotted path into `detail` (with `[]` for arrays) to {operation: exact|in|contains, value}.
// The limits and the matching rules below are PostHog's, translated from Django JSON lookups to
// SQLite JSON functions.

export type DetailOperation = "exact" | "in" | "contains";
export interface DetailFilter {
  operation?: DetailOperation;
  value?: unknown;
}
export type DetailFilters = Record<string, DetailFilter>;

const OPERATIONS = new Set(["exact", "in", "contains"]);
const MAX_FILTERS = 100;
const MAX_PATH_LENGTH = 500;
// Array paths look at the first 5 elements of each array; each `[]` multiplies the paths to test.
const ARRAY_INDICES_CHECKED = 5;
const MAX_INDEXED_PATHS = 125;
// Django resolves these segment names as lookups instead of JSON keys; PostHog rejects them.
const RESERVED_SEGMENTS = new Set([
  "exact",
  "iexact",
  "contains",
  "icontains",
  "in",
  "gt",
  "gte",
  "lt",
  "lte",
  "startswith",
  "istartswith",
  "endswith",
  "iendswith",
  "range",
  "isnull",
  "regex",
  "iregex",
  "contained_by",
  "has_key",
  "has_keys",
  "has_any_keys",
]);

const invalid = (detail: string) => validationError(detail, "detail_filters");

/** Parses the `detail_filters` query value (a JSON string) or an already-parsed object, and validates it. */
export function parseDetailFilters(raw: unknown): DetailFilters {
  let filters = raw;
  if (typeof raw === "string") {
    try {
      filters = JSON.parse(raw);
    } catch {
      throw invalid("detail_filters must be valid JSON.");
    }
  }
  if (typeof filters !== "object" || filters === null || Array.isArray(filters)) throw invalid("detail_filters must be an object.");
  const entries = Object.entries(filters);
  if (entries.length > MAX_FILTERS) throw invalid(`detail_filters accepts at most ${MAX_FILTERS} entries.`);
  for (const [path, config] of entries) validateFilter(path, config);
  return filters as DetailFilters;
}

function validateFilter(path: string, config: unknown) {
  if (!path) throw invalid("Detail filter field paths must be non-empty strings.");
  if (path.length > MAX_PATH_LENGTH) throw invalid(`Detail filter field paths must be at most ${MAX_PATH_LENGTH} characters.`);
  if (typeof config !== "object" || config === null || Array.isArray(config)) throw invalid(`Detail filter '${path}' must be an object.`);
  const operation = (config as DetailFilter).operation ?? "exact";
  if (typeof operation !== "string" || !OPERATIONS.has(operation)) {
    throw invalid(`Unsupported detail filter operation '${String(operation)}'. Allowed operations: contains, exact, in.`);
  }
  if (path.includes("__")) throw invalid(`Detail filter field path '${path}' contains '__'.`);
  if (ARRAY_INDICES_CHECKED ** countArrays(path) > MAX_INDEXED_PATHS)
    throw invalid(`Detail filter field path '${path}' nests too many arrays.`);
  for (const segment of path.replaceAll("[]", "").split(".")) {
    if (!segment) throw invalid(`Detail filter field path '${path}' has an empty segment.`);
    if (RESERVED_SEGMENTS.has(segment)) throw invalid(`Detail filter field path '${path}' uses reserved segment '${segment}'.`);
  }
}

const countArrays = (path: string) => path.split("[]").length - 1;

/**
 * SQL conditions (ANDed) for validated detail filters; entries whose value is null are skipped.
 * Paths and values are inlined as SQL literals (quotes doubled), so a hundred filters do not run
 * into D1's 100 bound parameters.
 */
export function detailFilterConditions(filters: DetailFilters, column = "a.detail"): string[] {
  const conditions: string[] = [];
  for (const [path, { operation = "exact", value }] of Object.entries(filters)) {
    if (value === null || value === undefined) continue;
    if (!path.includes("[]")) {
      conditions.push(valueCondition(column, pathLiteral(path.split(".")), operation, value));
      continue;
    }
    const parts = path.split("[].");
    if (operation === "contains" || parts.length < 2) {
      conditions.push(containsCondition(column, pathLiteral(path.split("[]")[0]!.split(".")), value));
    } else {
      conditions.push(arrayCondition(column, parts, countArrays(path), operation, value));
    }
  }
  return conditions;
}

/**
 * An array path (`changes[].field`): true when the value matches in one of the first elements of
 * each array (PostHog expands the path over indices 0..4). Each `[]` is a json_each over the
 * array so far, and the element's path is built from the element keys.
 */
function arrayCondition(column: string, parts: string[], depth: number, operation: DetailOperation, value: unknown): string {
  let path = pathLiteral(parts[0]!.split("."));
  if (path === null) return "0";
  const sources: string[] = [];
  const bounds: string[] = [];
  for (let k = 0; k < depth; k++) {
    sources.push(`json_each(${column}, ${path}) AS e${k}`);
    bounds.push(`e${k}.key < ${ARRAY_INDICES_CHECKED}`);
    path = `${path} || '[' || e${k}.key || ']'`;
    const rest = parts[k + 1];
    if (rest !== undefined) {
      const suffix = pathLiteral(rest.split("."), "");
      if (suffix === null) return "0";
      path = `${path} || ${suffix}`;
    }
  }
  return `EXISTS (SELECT 1 FROM ${sources.join(", ")} WHERE ${bounds.join(" AND ")} AND ${valueCondition(column, path, operation, value)})`;
}

/** A SQL string literal. */
function sqlString(text: string): string {
  if (text.includes("\0")) throw invalid("Detail filter values cannot contain NUL characters.");
  return `'${text.replaceAll("'", "''")}'`;
}

const sqlNumber = (n: number) => (Number.isInteger(n) ? String(n) : n.toPrecision(17));

/** A SQLite JSON path as a SQL literal; integer segments index arrays (as Django's key transforms do). Null when inexpressible. */
function pathLiteral(segments: string[], root = "$"): string | null {
  let path = root;
  for (const segment of segments) {
    if (/^-?\d+$/.test(segment)) {
      const index = Number(segment);
      path += index < 0 ? `[#${index}]` : `[${index}]`;
    } else if (segment.includes('"')) {
      return null;
    } else {
      path += `."${segment}"`;
    }
  }
  return sqlString(path);
}

function valueCondition(column: string, path: string | null, operation: DetailOperation, value: unknown): string {
  if (path === null) return "0";
  if (operation === "contains") return containsCondition(column, path, value);
  const values = operation === "in" && Array.isArray(value) ? value : [value];
  return typedEquality(column, path, values.flatMap(typeVariants));
}

/** Type-insensitive equality: "5" matches 5 and 5.0, "true"/"1" match true (PostHog's variants). */
function typedEquality(column: string, path: string, variants: unknown[]): string {
  const strings = variants.filter((v): v is string => typeof v === "string");
  const numbers = variants.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  const objects = variants.filter((v) => typeof v === "object" && v !== null);
  const extract = `json_extract(${column}, ${path})`;
  const branches: string[] = [];
  if (strings.length) branches.push(`WHEN 'text' THEN ${extract} IN (${strings.map(sqlString).join(", ")})`);
  if (numbers.length) {
    const list = numbers.map(sqlNumber).join(", ");
    branches.push(`WHEN 'integer' THEN ${extract} IN (${list})`, `WHEN 'real' THEN ${extract} IN (${list})`);
  }
  if (variants.includes(true)) branches.push("WHEN 'true' THEN 1");
  if (variants.includes(false)) branches.push("WHEN 'false' THEN 1");
  if (objects.length) {
    const list = objects.map((o) => `json(${sqlString(JSON.stringify(o))})`).join(", ");
    branches.push(`WHEN 'object' THEN ${extract} IN (${list})`, `WHEN 'array' THEN ${extract} IN (${list})`);
  }
  if (!branches.length) return "0";
  return `(CASE json_type(${column}, ${path}) ${branches.join(" ")} ELSE 0 END)`;
}

/** Case-insensitive substring of the value's text (JSON text for objects and arrays), like Django's icontains. */
function containsCondition(column: string, path: string | null, value: unknown): string {
  if (path === null) return "0";
  const text = `CASE json_type(${column}, ${path}) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(json_extract(${column}, ${path}) AS TEXT) END`;
  return `instr(lower(${text}), ${sqlString(String(value).toLowerCase())}) > 0`;
}

/** Python's str(float): integral floats keep a ".0". */
const pythonFloatString = (n: number) => (Number.isInteger(n) && Math.abs(n) < 1e16 ? `${n}.0` : String(n));

/** The values a filter value also matches, as PostHog's `_get_type_variants`. */
export function typeVariants(value: unknown): unknown[] {
  const variants: unknown[] = [value];
  if (typeof value === "string" && value.trim()) {
    const s = value.trim();
    if (/^[+-]?\d+$/.test(s) && String(Number.parseInt(s, 10)) === s) variants.push(Number.parseInt(s, 10));
    const f = Number(s);
    if (Number.isFinite(f) && pythonFloatString(f) === s) variants.push(f);
    const lower = s.toLowerCase();
    if (lower === "true" || lower === "1") variants.push(true);
    else if (lower === "false" || lower === "0") variants.push(false);
  } else if (typeof value === "boolean") {
    variants.push(String(value), value ? "True" : "False", value ? "1" : "0");
  } else if (typeof value === "number") {
    variants.push(String(value));
  }
  const seen = new Set<string>();
  return variants.filter((v) => {
    const key = `${typeof v}:${JSON.stringify(v)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
