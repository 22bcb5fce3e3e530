import { ApiError, validationError } from "../lib/errors";
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
  /** `attributes` as JSON when the parser already serialised them (saves a second stringify per record). */
  attributesJson?: string;
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
export type Path = (string | number)[];

// Validation errors name the field (`attr`), but paths are only built when something is wrong:
// helpers take the parent path and the key, so a valid request allocates no path arrays per field.
export function malformed(at: Path, key: string | number | null, detail: string): never {
  const path = key === null ? at : [...at, key];
  throw validationError(`Malformed OTLP payload: ${detail}`, path.length ? path.join("__") : null, "malformed_otlp");
}

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalArray(value: Json, at: Path, key: string): Json[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) malformed(at, key, "expected an array.");
  return value;
}

function optionalObject(value: Json, at: Path, key: string): Record<string, Json> | null {
  if (value === undefined || value === null) return null;
  if (!isObject(value)) malformed(at, key, "expected an object.");
  return value;
}

function optionalString(value: Json, at: Path, key: string): string {
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") malformed(at, key, "expected a string.");
  return value;
}

function optionalInteger(value: Json, at: Path, key: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === "number" && Number.isSafeInteger(value)) return value;
  if (typeof value === "string" && /^-?\d+$/.test(value)) return Number(value);
  malformed(at, key, "expected an integer.");
}

/** `timeUnixNano` (a decimal string or number of nanoseconds) as microseconds; 0 when absent. */
function nanosToMicros(value: Json, at: Path, key: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === "string" && /^\d{1,20}$/.test(value)) {
    // Up to 15 digits of microseconds fit a double exactly; only longer strings need BigInt.
    return value.length <= 18 ? Math.floor(Number(value) / 1000) : Number(BigInt(value) / 1000n);
  }
  if (typeof value === "number" && Number.isInteger(value) && value >= 0) return Math.floor(value / 1000);
  malformed(at, key, "expected unsigned nanoseconds since the epoch (a decimal string).");
}

const SEVERITY_ENUM_PREFIX = "SEVERITY_NUMBER_";
const SEVERITY_ENUM_NAMES = [
  "UNSPECIFIED",
  ...["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"].flatMap((l) => [l, `${l}2`, `${l}3`, `${l}4`]),
];

function severityNumberField(value: Json, at: Path, key: string): number {
  if (typeof value === "string" && value.startsWith(SEVERITY_ENUM_PREFIX)) {
    const index = SEVERITY_ENUM_NAMES.indexOf(value.slice(SEVERITY_ENUM_PREFIX.length));
    if (index < 0) malformed(at, key, `unknown severity ${value}.`);
    return index;
  }
  return optionalInteger(value, at, key);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * An OTLP AnyValue (at `[...at, key]`) as JSON text. 64-bit integers keep every digit (they arrive
 * as strings), bytes stay base64, and an empty AnyValue is `null`.
 */
function anyValueJson(value: Json, at: Path, key: string | number, depth: number): string {
  if (depth > OTLP_LIMITS.maxValueDepth) malformed(at, key, `values nest deeper than ${OTLP_LIMITS.maxValueDepth} levels.`);
  if (value === undefined || value === null) return "null";
  if (!isObject(value)) malformed(at, key, "expected an AnyValue object.");
  const here = () => [...at, key];
  if ("stringValue" in value) {
    if (typeof value.stringValue !== "string") malformed(here(), "stringValue", "expected a string.");
    return JSON.stringify(value.stringValue);
  }
  if ("boolValue" in value) {
    if (typeof value.boolValue !== "boolean") malformed(here(), "boolValue", "expected a boolean.");
    return value.boolValue ? "true" : "false";
  }
  if ("intValue" in value) {
    const int = value.intValue;
    if (typeof int === "string" && /^-?\d{1,20}$/.test(int)) return int.length < 16 ? String(Number(int)) : BigInt(int).toString();
    if (typeof int === "number" && Number.isSafeInteger(int)) return String(int);
    malformed(here(), "intValue", "expected a 64-bit integer (a decimal string).");
  }
  if ("doubleValue" in value) {
    const double = value.doubleValue;
    if (typeof double === "number") return JSON.stringify(double);
    if (double === "NaN" || double === "Infinity" || double === "-Infinity") return JSON.stringify(double);
    if (typeof double === "string" && double.trim() !== "" && Number.isFinite(Number(double))) return JSON.stringify(Number(double));
    malformed(here(), "doubleValue", "expected a number.");
  }
  if ("bytesValue" in value) {
    if (typeof value.bytesValue !== "string" || !BASE64.test(value.bytesValue)) malformed(here(), "bytesValue", "expected base64.");
    return JSON.stringify(value.bytesValue);
  }
  if ("arrayValue" in value) {
    const array = optionalObject(value.arrayValue, here(), "arrayValue");
    const valuesAt = [...here(), "arrayValue"];
    const items = optionalArray(array?.values, valuesAt, "values");
    const itemsAt = [...valuesAt, "values"];
    return `[${items.map((item, i) => anyValueJson(item, itemsAt, i, depth + 1)).join(",")}]`;
  }
  if ("kvlistValue" in value) {
    const list = optionalObject(value.kvlistValue, here(), "kvlistValue");
    const valuesAt = [...here(), "kvlistValue"];
    const entries = keyValues(optionalArray(list?.values, valuesAt, "values"), [...valuesAt, "values"], depth + 1, anyValueJson);
    return `{${Object.entries(entries)
      .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
      .join(",")}}`;
  }
  return "null";
}

/**
 * As PostHog stores attribute values and bodies: strings as they are, every other kind as JSON
 * text, an empty value as "".
 */
function anyValueText(value: Json, at: Path, key: string | number, depth: number): string {
  if (isObject(value) && typeof value.stringValue === "string") return value.stringValue;
  const json = anyValueJson(value, at, key, depth);
  if (json === "null") return "";
  return json.startsWith('"') ? (JSON.parse(json) as string) : json;
}

type ValueReader = (value: Json, at: Path, key: string | number, depth: number) => string;

/** A KeyValue list (its entries at `[...at, i]`) as key -> value; a repeated key keeps its last value. */
function keyValues(list: Json[], at: Path, depth: number, read: ValueReader): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < list.length; i++) {
    const entry = list[i];
    if (!isObject(entry)) malformed(at, i, "expected a KeyValue object.");
    if (typeof entry.key !== "string") malformed([...at, i], "key", "expected a string.");
    out[entry.key] = read(entry.value, [...at, i], "value", depth);
  }
  return out;
}

function attributeMap(list: Json, at: Path, key: string): Record<string, string> {
  return keyValues(optionalArray(list, at, key), [...at, key], 0, anyValueText);
}

/** Hex trace/span id of `bytes` bytes; "" or all zeros mean "no id". Undefined when invalid. */
function hexId(value: Json, bytes: number, at: Path, key: string): string | null | undefined {
  const text = optionalString(value, at, key);
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

/**
 * UUID v7 for records ingested together: the request's millisecond, then the random bits of a
 * native v4 UUID (already correctly laid out) with the version nibble set to 7. Much cheaper than
 * assembling bytes for each of thousands of records.
 */
function uuidv7Factory(ms: number): () => string {
  const hex = ms.toString(16).padStart(12, "0");
  const prefix = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7`;
  return () => prefix + crypto.randomUUID().slice(15);
}

export interface ParseOptions {
  /** Ingestion time in milliseconds. */
  now: number;
  /** Oldest accepted timestamp in milliseconds (the project's retention window). */
  oldestMs: number;
}

/** A resource's attributes as stored with each of its records. */
export interface ResourceFields {
  attributes: Record<string, string>;
  serviceName: string;
  json: string;
}

/** One log record's fields once read, from OTLP/JSON or from a decoded protobuf message alike. */
export interface RecordFields {
  body: string;
  attributes: Record<string, string>;
  severityNumber: number;
  severityText: string;
  traceFlags: number;
  eventName: string;
  /** `timeUnixNano` in microseconds, 0 when absent. */
  time: number;
  /** `observedTimeUnixNano` in microseconds, 0 when absent. */
  observed: number;
  /** Hex id, null for "no id", undefined when malformed (the record is rejected). */
  traceId: string | null | undefined;
  spanId: string | null | undefined;
}

export function resourceFields(attributes: Record<string, string>): ResourceFields {
  return { attributes, serviceName: attributes[SERVICE_NAME] ?? "", json: JSON.stringify(attributes) };
}

export function instrumentationScopeOf(name: string, version: string): string {
  return version ? `${name}@${version}` : name;
}

/**
 * Turns read records into stored rows, the same for both encodings: the record limit (413), the
 * timestamp rules, the size limit and the records OTLP's partial success lets us refuse.
 */
export class LogRowsBuilder {
  private readonly rows: LogRow[] = [];
  private readonly errors: string[] = [];
  private rejected = 0;
  private records = 0;
  private readonly uuid: () => string;
  private readonly nowMicros: number;
  private readonly oldestMicros: number;
  private readonly newestMicros: number;

  constructor(options: ParseOptions) {
    this.uuid = uuidv7Factory(options.now);
    this.nowMicros = options.now * 1000;
    this.oldestMicros = options.oldestMs * 1000;
    this.newestMicros = this.nowMicros + OTLP_LIMITS.maxFutureMs * 1000;
  }

  /** Counts one more record of the request: past the limit the whole request is refused. */
  count(): void {
    if (++this.records > OTLP_LIMITS.maxRecords) {
      throw payloadTooLarge(`A request may carry at most ${OTLP_LIMITS.maxRecords} log records.`);
    }
  }

  /** Adds a record (`where()` names it in a rejection: `resourceLogs.0.scopeLogs.0.logRecords.3`). */
  add(where: () => string, resource: ResourceFields, instrumentationScope: string, record: RecordFields): void {
    const { traceId, spanId, attributes, body } = record;
    if (traceId === undefined || spanId === undefined) {
      this.reject(`${where()}: ${traceId === undefined ? "traceId must be 32" : "spanId must be 16"} hex characters.`);
      return;
    }
    const observed = record.observed || this.nowMicros;
    // As PostHog does: a timestamp outside what the project keeps (or far in the future, a
    // skewed clock) is replaced by the observed time and kept as `$originalTimestamp`.
    let timestamp = record.time || observed;
    if (timestamp < this.oldestMicros || timestamp > this.newestMicros) {
      attributes.$originalTimestamp = new Date(Math.floor(timestamp / 1000)).toISOString();
      timestamp = observed;
    }
    const attributesJson = JSON.stringify(attributes);
    if (body.length + attributesJson.length + resource.json.length > OTLP_LIMITS.maxRecordBytes) {
      this.reject(`${where()}: the record is larger than ${OTLP_LIMITS.maxRecordBytes} bytes.`);
      return;
    }
    this.rows.push({
      uuid: this.uuid(),
      timestamp,
      observedTimestamp: observed,
      ...severityOf(record.severityNumber, record.severityText, body),
      serviceName: resource.serviceName,
      body,
      traceId,
      spanId,
      traceFlags: record.traceFlags,
      attributes,
      attributesJson,
      resourceAttributes: resource.attributes,
      instrumentationScope,
      eventName: record.eventName,
    });
  }

  result(): ParsedLogs {
    return { rows: this.rows, rejected: this.rejected, errors: this.errors };
  }

  private reject(reason: string) {
    this.rejected++;
    if (this.errors.length < MAX_REPORTED_ERRORS) this.errors.push(reason);
  }
}

/**
 * Validates and flattens an OTLP `ExportLogsServiceRequest` (JSON mapping). Structural errors
 * throw a 400 (`malformed_otlp`, with the path in `attr`) so nothing is stored; records that are
 * well-formed but unacceptable (bad trace/span ids, too large) are counted as rejected.
 */
export function parseOtlpLogs(payload: Json, options: ParseOptions): ParsedLogs {
  if (!isObject(payload)) malformed([], null, "the body must be an ExportLogsServiceRequest object.");
  const out = new LogRowsBuilder(options);

  for (const [r, resourceLogs] of optionalArray(payload.resourceLogs, [], "resourceLogs").entries()) {
    const rPath: Path = ["resourceLogs", r];
    if (!isObject(resourceLogs)) malformed(rPath, null, "expected a ResourceLogs object.");
    const resourceObject = optionalObject(resourceLogs.resource, rPath, "resource");
    const resource = resourceFields(attributeMap(resourceObject?.attributes, [...rPath, "resource"], "attributes"));

    for (const [s, scopeLogs] of optionalArray(resourceLogs.scopeLogs, rPath, "scopeLogs").entries()) {
      const sPath: Path = [...rPath, "scopeLogs", s];
      if (!isObject(scopeLogs)) malformed(sPath, null, "expected a ScopeLogs object.");
      const scope = optionalObject(scopeLogs.scope, sPath, "scope");
      const scopeName = optionalString(scope?.name, [...sPath, "scope"], "name");
      const scopeVersion = optionalString(scope?.version, [...sPath, "scope"], "version");
      const instrumentationScope = instrumentationScopeOf(scopeName, scopeVersion);

      for (const [i, record] of optionalArray(scopeLogs.logRecords, sPath, "logRecords").entries()) {
        const path: Path = [...sPath, "logRecords", i];
        if (!isObject(record)) malformed(path, null, "expected a LogRecord object.");
        out.count();
        out.add(() => path.join("."), resource, instrumentationScope, {
          body: anyValueText(record.body, path, "body", 0),
          attributes: attributeMap(record.attributes, path, "attributes"),
          severityNumber: severityNumberField(record.severityNumber, path, "severityNumber"),
          severityText: optionalString(record.severityText, path, "severityText"),
          traceFlags: optionalInteger(record.flags, path, "flags"),
          eventName: optionalString(record.eventName, path, "eventName"),
          time: nanosToMicros(record.timeUnixNano, path, "timeUnixNano"),
          observed: nanosToMicros(record.observedTimeUnixNano, path, "observedTimeUnixNano"),
          traceId: hexId(record.traceId, 16, path, "traceId"),
          spanId: hexId(record.spanId, 8, path, "spanId"),
        });
      }
    }
  }
  return out.result();
}

export const payloadTooLarge = (detail: string) => new ApiError(413, "invalid_request", "payload_too_large", detail);
