import { validationError } from "../lib/errors";
import type { SqlParams } from "./sql";

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

/** SQL conditions (ANDed) for validated detail filters; entries whose value is null are skipped. */
export function detailFilterConditions(filters: DetailFilters, params: SqlParams, column = "a.detail"): string[] {
  const conditions: string[] = [];
  for (const [path, { operation = "exact", value }] of Object.entries(filters)) {
    if (value === null || value === undefined) continue;
    if (!path.includes("[]")) {
      conditions.push(valueCondition(column, jsonPath(path.split(".")), operation, value, params));
    } else if (operation === "contains") {
      conditions.push(containsCondition(column, jsonPath(path.split("[]")[0]!.split(".")), value, params));
    } else {
      const parts = path.split("[].");
      if (parts.length < 2) {
        conditions.push(containsCondition(column, jsonPath(path.split("[]")[0]!.split(".")), value, params));
      } else {
        const alternatives = indexedPaths(parts, countArrays(path)).map((segments) =>
          valueCondition(column, jsonPath(segments), operation, value, params),
        );
        conditions.push(`(${alternatives.join(" OR ")})`);
      }
    }
  }
  return conditions;
}

/** Every concrete path of an array path, checking the first elements of each array (PostHog's expansion). */
function indexedPaths(parts: string[], depth: number): string[][] {
  const results: string[][] = [];
  const walk = (indices: number[]) => {
    if (indices.length === depth) {
      const segments = parts[0]!.split(".");
      indices.forEach((index, i) => {
        segments.push(String(index));
        if (i + 1 < parts.length) segments.push(...parts[i + 1]!.split("."));
      });
      results.push(segments);
      return;
    }
    for (let i = 0; i < ARRAY_INDICES_CHECKED; i++) walk([...indices, i]);
  };
  walk([]);
  return results;
}

/** A SQLite JSON path; integer segments index arrays (as Django's key transforms do). Null when inexpressible. */
function jsonPath(segments: string[]): string | null {
  let path = "$";
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
  return path;
}

function valueCondition(column: string, path: string | null, operation: DetailOperation, value: unknown, params: SqlParams): string {
  if (path === null) return "0";
  if (operation === "contains") return containsCondition(column, path, value, params);
  const values = operation === "in" && Array.isArray(value) ? value : [value];
  return typedEquality(column, path, values.flatMap(typeVariants), params);
}

/** Type-insensitive equality: "5" matches 5 and 5.0, "true"/"1" match true (PostHog's variants). */
function typedEquality(column: string, path: string, variants: unknown[], params: SqlParams): string {
  const p = params.add(path);
  const strings = variants.filter((v): v is string => typeof v === "string");
  const numbers = variants.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  const objects = variants.filter((v) => typeof v === "object" && v !== null);
  const branches: string[] = [];
  if (strings.length) branches.push(`WHEN 'text' THEN json_extract(${column}, ${p}) IN (${strings.map((s) => params.add(s)).join(", ")})`);
  if (numbers.length) {
    const list = numbers.map((n) => params.add(n)).join(", ");
    branches.push(
      `WHEN 'integer' THEN json_extract(${column}, ${p}) IN (${list})`,
      `WHEN 'real' THEN json_extract(${column}, ${p}) IN (${list})`,
    );
  }
  if (variants.includes(true)) branches.push("WHEN 'true' THEN 1");
  if (variants.includes(false)) branches.push("WHEN 'false' THEN 1");
  if (objects.length) {
    const list = objects.map((o) => `json(${params.add(JSON.stringify(o))})`).join(", ");
    branches.push(
      `WHEN 'object' THEN json_extract(${column}, ${p}) IN (${list})`,
      `WHEN 'array' THEN json_extract(${column}, ${p}) IN (${list})`,
    );
  }
  if (!branches.length) return "0";
  return `(CASE json_type(${column}, ${p}) ${branches.join(" ")} ELSE 0 END)`;
}

/** Case-insensitive substring of the value's text (JSON text for objects and arrays), like Django's icontains. */
function containsCondition(column: string, path: string | null, value: unknown, params: SqlParams): string {
  if (path === null) return "0";
  const p = params.add(path);
  const needle = params.add(String(value).toLowerCase());
  const text = `CASE json_type(${column}, ${p}) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(json_extract(${column}, ${p}) AS TEXT) END`;
  return `instr(lower(${text}), ${needle}) > 0`;
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
