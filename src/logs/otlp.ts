import { ApiError, validationError } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { type SeverityLevel, severityFromNumber, severityFromText, severityNumberOf } from "./severity";

/** One log record as stored: the OTLP record flattened with its resource and scope. */
export interface LogRow {
  uuid: string;
  /** Microseconds since the epoch. */
  timestamp: number;
  observedTimestamp: number;
  severityText: SeverityLevel;
  severityNumber: number;
  serviceName: string;
  body: string;
  traceId: string | null;
  spanId: string | null;
  traceFlags: number;
  attributes: Record<string, string>;
  resourceAttributes: Record<string, string>;
  instrumentationScope: string;
  eventName: string;
}

export interface ParsedLogs {
  rows: LogRow[];
  rejected: number;
  /** First few reasons, for the OTLP `partialSuccess.errorMessage`. */
  errors: string[];
}

export const OTLP_LIMITS = {
  /** Records in one request; more is answered with 413. */
  maxRecords: 5000,
  /** Size of one stored record (body + attributes + resource attributes); larger records are rejected. */
  maxRecordBytes: 128 * 1024,
  /** Nesting of arrays / key-value lists inside one value; deeper is a malformed payload. */
  maxValueDepth: 16,
  /** Accepted clock skew into the future before a timestamp is replaced by the ingestion time. */
  maxFutureMs: 24 * 60 * 60 * 1000,
} as const;

const MAX_REPORTED_ERRORS = 5;
const SERVICE_NAME = "service.name";
/** Body keys a JSON body may carry its level in, when the record itself has none (as PostHog reads them). */
const BODY_LEVEL_KEYS = ["level", "severity", "log.level", "config.log_level"];

type Json = unknown;
type Path = (string | number)[];

function malformed(path: Path, detail: string): never {
  throw validationError(`Malformed OTLP payload: ${detail}`, path.length ? path.join("__") : null, "malformed_otlp");
}

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalArray(value: Json, path: Path): Json[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) malformed(path, "expected an array.");
  return value;
}

function optionalObject(value: Json, path: Path): Record<string, Json> | null {
  if (value === undefined || value === null) return null;
  if (!isObject(value)) malformed(path, "expected an object.");
  return value;
}

function optionalString(value: Json, path: Path): string {
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") malformed(path, "expected a string.");
  return value;
}

function optionalInteger(value: Json, path: Path): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === "number" && Number.isSafeInteger(value)) return value;
  if (typeof value === "string" && /^-?\d+$/.test(value)) return Number(value);
  malformed(path, "expected an integer.");
}

/** `timeUnixNano` (a decimal string or number of nanoseconds) as microseconds; 0 when absent. */
function nanosToMicros(value: Json, path: Path): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === "string" && /^\d{1,20}$/.test(value)) return Number(BigInt(value) / 1000n);
  if (typeof value === "number" && Number.isInteger(value) && value >= 0) return Math.floor(value / 1000);
  malformed(path, "expected unsigned nanoseconds since the epoch (a decimal string).");
}

const SEVERITY_ENUM_PREFIX = "SEVERITY_NUMBER_";
const SEVERITY_ENUM_NAMES = [
  "UNSPECIFIED",
  "TRACE",
  "TRACE2",
  "TRACE3",
  "TRACE4",
  "DEBUG",
  "DEBUG2",
  "DEBUG3",
  "DEBUG4",
  "INFO",
  "INFO2",
  "INFO3",
  "INFO4",
  "WARN",
  "WARN2",
  "WARN3",
  "WARN4",
  "ERROR",
  "ERROR2",
  "ERROR3",
  "ERROR4",
  "FATAL",
  "FATAL2",
  "FATAL3",
  "FATAL4",
];

function severityNumberField(value: Json, path: Path): number {
  if (typeof value === "string" && value.startsWith(SEVERITY_ENUM_PREFIX)) {
    const index = SEVERITY_ENUM_NAMES.indexOf(value.slice(SEVERITY_ENUM_PREFIX.length));
    if (index < 0) malformed(path, `unknown severity ${value}.`);
    return index;
  }
  return optionalInteger(value, path);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * An OTLP AnyValue as JSON text. 64-bit integers keep every digit (they arrive as strings), bytes
 * stay base64, and an empty AnyValue is `null`.
 */
function anyValueJson(value: Json, path: Path, depth: number): string {
  if (depth > OTLP_LIMITS.maxValueDepth) malformed(path, `values nest deeper than ${OTLP_LIMITS.maxValueDepth} levels.`);
  if (value === undefined || value === null) return "null";
  if (!isObject(value)) malformed(path, "expected an AnyValue object.");
  if ("stringValue" in value) {
    if (typeof value.stringValue !== "string") malformed([...path, "stringValue"], "expected a string.");
    return JSON.stringify(value.stringValue);
  }
  if ("boolValue" in value) {
    if (typeof value.boolValue !== "boolean") malformed([...path, "boolValue"], "expected a boolean.");
    return value.boolValue ? "true" : "false";
  }
  if ("intValue" in value) {
    const int = value.intValue;
    if (typeof int === "string" && /^-?\d{1,20}$/.test(int)) return BigInt(int).toString();
    if (typeof int === "number" && Number.isSafeInteger(int)) return String(int);
    malformed([...path, "intValue"], "expected a 64-bit integer (a decimal string).");
  }
  if ("doubleValue" in value) {
    const double = value.doubleValue;
    if (typeof double === "number") return JSON.stringify(double);
    if (double === "NaN" || double === "Infinity" || double === "-Infinity") return JSON.stringify(double);
    if (typeof double === "string" && double.trim() !== "" && Number.isFinite(Number(double))) return JSON.stringify(Number(double));
    malformed([...path, "doubleValue"], "expected a number.");
  }
  if ("bytesValue" in value) {
    if (typeof value.bytesValue !== "string" || !BASE64.test(value.bytesValue)) malformed([...path, "bytesValue"], "expected base64.");
    return JSON.stringify(value.bytesValue);
  }
  if ("arrayValue" in value) {
    const array = optionalObject(value.arrayValue, [...path, "arrayValue"]);
    const items = optionalArray(array?.values, [...path, "arrayValue", "values"]);
    return `[${items.map((item, i) => anyValueJson(item, [...path, "arrayValue", "values", i], depth + 1)).join(",")}]`;
  }
  if ("kvlistValue" in value) {
    const list = optionalObject(value.kvlistValue, [...path, "kvlistValue"]);
    const entries = keyValues(
      optionalArray(list?.values, [...path, "kvlistValue", "values"]),
      [...path, "kvlistValue", "values"],
      depth + 1,
    );
    return `{${Object.entries(entries)
      .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
      .join(",")}}`;
  }
  return "null";
}

/** A KeyValue list as key -> JSON text; a repeated key keeps its last value. */
function keyValues(list: Json[], path: Path, depth: number): Record<string, string> {
  const out: Record<string, string> = {};
  list.forEach((entry, i) => {
    if (!isObject(entry)) malformed([...path, i], "expected a KeyValue object.");
    if (typeof entry.key !== "string") malformed([...path, i, "key"], "expected a string.");
    out[entry.key] = anyValueJson(entry.value, [...path, i, "value"], depth);
  });
  return out;
}

/** As PostHog stores them: strings as they are, every other kind JSON-encoded, an empty value as "". */
function textOf(json: string): string {
  if (json === "null") return "";
  return json.startsWith('"') ? (JSON.parse(json) as string) : json;
}

function attributeMap(list: Json, path: Path): Record<string, string> {
  const raw = keyValues(optionalArray(list, path), path, 0);
  const out: Record<string, string> = {};
  for (const [key, json] of Object.entries(raw)) out[key] = textOf(json);
  return out;
}

/** Hex trace/span id of `bytes` bytes; "" or all zeros mean "no id". Undefined when invalid. */
function hexId(value: Json, bytes: number, path: Path): string | null | undefined {
  const text = optionalString(value, path);
  if (text === "") return null;
  if (text.length !== bytes * 2 || !/^[0-9a-fA-F]+$/.test(text)) return undefined;
  return /^0+$/.test(text) ? null : text.toLowerCase();
}

function levelFromBody(body: string): SeverityLevel | null {
  if (!body.startsWith("{")) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return null;
  }
  if (!isObject(parsed)) return null;
  for (const key of BODY_LEVEL_KEYS) {
    const candidate = parsed[key];
    if (typeof candidate === "string") {
      const level = severityFromText(candidate, null);
      if (level) return level;
    }
  }
  return null;
}

function severityOf(number: number, text: string, body: string): { severityText: SeverityLevel; severityNumber: number } {
  const fromNumber = severityFromNumber(number);
  if (fromNumber) return { severityText: fromNumber, severityNumber: number };
  const level = (text ? severityFromText(text, null) : levelFromBody(body)) ?? severityFromText(text, "info");
  return { severityText: level, severityNumber: severityNumberOf(level) };
}

export interface ParseOptions {
  /** Ingestion time in milliseconds. */
  now: number;
  /** Oldest accepted timestamp in milliseconds (the project's retention window). */
  oldestMs: number;
}

/**
 * Validates and flattens an OTLP `ExportLogsServiceRequest` (JSON mapping). Structural errors
 * throw a 400 (`malformed_otlp`, with the path in `attr`) so nothing is stored; records that are
 * well-formed but unacceptable (bad trace/span ids, too large) are counted as rejected.
 */
export function parseOtlpLogs(payload: Json, options: ParseOptions): ParsedLogs {
  if (!isObject(payload)) malformed([], "the body must be an ExportLogsServiceRequest object.");
  const nowMicros = options.now * 1000;
  const rows: LogRow[] = [];
  const errors: string[] = [];
  let rejected = 0;
  let records = 0;
  const reject = (reason: string) => {
    rejected++;
    if (errors.length < MAX_REPORTED_ERRORS) errors.push(reason);
  };

  for (const [r, resourceLogs] of optionalArray(payload.resourceLogs, ["resourceLogs"]).entries()) {
    const rPath: Path = ["resourceLogs", r];
    if (!isObject(resourceLogs)) malformed(rPath, "expected a ResourceLogs object.");
    const resource = optionalObject(resourceLogs.resource, [...rPath, "resource"]);
    const resourceAttributes = attributeMap(resource?.attributes, [...rPath, "resource", "attributes"]);
    const serviceName = resourceAttributes[SERVICE_NAME] ?? "";
    const resourceJson = JSON.stringify(resourceAttributes);

    for (const [s, scopeLogs] of optionalArray(resourceLogs.scopeLogs, [...rPath, "scopeLogs"]).entries()) {
      const sPath: Path = [...rPath, "scopeLogs", s];
      if (!isObject(scopeLogs)) malformed(sPath, "expected a ScopeLogs object.");
      const scope = optionalObject(scopeLogs.scope, [...sPath, "scope"]);
      const scopeName = optionalString(scope?.name, [...sPath, "scope", "name"]);
      const scopeVersion = optionalString(scope?.version, [...sPath, "scope", "version"]);
      const instrumentationScope = scopeVersion ? `${scopeName}@${scopeVersion}` : scopeName;

      for (const [i, record] of optionalArray(scopeLogs.logRecords, [...sPath, "logRecords"]).entries()) {
        const path: Path = [...sPath, "logRecords", i];
        if (!isObject(record)) malformed(path, "expected a LogRecord object.");
        if (++records > OTLP_LIMITS.maxRecords) {
          throw payloadTooLarge(`A request may carry at most ${OTLP_LIMITS.maxRecords} log records.`);
        }

        const bodyJson = anyValueJson(record.body, [...path, "body"], 0);
        const body = textOf(bodyJson);
        const attributes = attributeMap(record.attributes, [...path, "attributes"]);
        const severityNumber = severityNumberField(record.severityNumber, [...path, "severityNumber"]);
        const severityText = optionalString(record.severityText, [...path, "severityText"]);
        const traceFlags = optionalInteger(record.flags, [...path, "flags"]);
        const eventName = optionalString(record.eventName, [...path, "eventName"]);
        const time = nanosToMicros(record.timeUnixNano, [...path, "timeUnixNano"]);
        const observed = nanosToMicros(record.observedTimeUnixNano, [...path, "observedTimeUnixNano"]) || nowMicros;
        const traceId = hexId(record.traceId, 16, [...path, "traceId"]);
        const spanId = hexId(record.spanId, 8, [...path, "spanId"]);

        if (traceId === undefined || spanId === undefined) {
          reject(`${path.join(".")}: ${traceId === undefined ? "traceId must be 32" : "spanId must be 16"} hex characters.`);
          continue;
        }

        // As PostHog does: a timestamp outside what the project keeps (or far in the future, a
        // skewed clock) is replaced by the observed time and kept as `$originalTimestamp`.
        let timestamp = time || observed;
        if (timestamp < options.oldestMs * 1000 || timestamp > nowMicros + OTLP_LIMITS.maxFutureMs * 1000) {
          attributes.$originalTimestamp = new Date(Math.floor(timestamp / 1000)).toISOString();
          timestamp = observed;
        }

        const attributesJson = JSON.stringify(attributes);
        if (body.length + attributesJson.length + resourceJson.length > OTLP_LIMITS.maxRecordBytes) {
          reject(`${path.join(".")}: the record is larger than ${OTLP_LIMITS.maxRecordBytes} bytes.`);
          continue;
        }

        rows.push({
          uuid: uuidv7(options.now),
          timestamp,
          observedTimestamp: observed,
          ...severityOf(severityNumber, severityText, body),
          serviceName,
          body,
          traceId,
          spanId,
          traceFlags,
          attributes,
          resourceAttributes,
          instrumentationScope,
          eventName,
        });
      }
    }
  }
  return { rows, rejected, errors };
}

export const payloadTooLarge = (detail: string) => new ApiError(413, "invalid_request", "payload_too_large", detail);
