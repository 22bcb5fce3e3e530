import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { base64Encode } from "@bufbuild/protobuf/wire";
import { validationError } from "../lib/errors";
import {
  type ExportLogsServiceRequest,
  ExportLogsServiceRequestSchema,
  ExportLogsServiceResponseSchema,
} from "./gen/opentelemetry/proto/collector/logs/v1/logs_service_pb";
import type { AnyValue, KeyValue } from "./gen/opentelemetry/proto/common/v1/common_pb";
import {
  instrumentationScopeOf,
  LogRowsBuilder,
  malformed,
  OTLP_LIMITS,
  type ParsedLogs,
  type ParseOptions,
  type Path,
  resourceFields,
} from "./otlp";

/**
 * Binary OTLP logs (`application/x-protobuf`), decoded with the messages protoc-gen-es generates
 * from the vendored opentelemetry-proto files (`proto/`, `src/logs/gen/`: `npm run proto:generate`).
 *
 * The decoded message is read straight into rows, with the same rules as the OTLP/JSON parser
 * (`parseOtlpLogs`) applies to the JSON mapping of the same message: attribute values and bodies
 * as PostHog stores them, 64-bit integers with every digit, bytes as base64, NaN / Infinity as
 * text, trace and span ids as lower-case hex, the same limits and rejections. Going through the
 * JSON mapping (`toJson`) first cost more than the decoding itself.
 */
export function decodeOtlpProtobuf(bytes: Uint8Array): ExportLogsServiceRequest {
  try {
    return fromBinary(ExportLogsServiceRequestSchema, bytes);
  } catch (error) {
    throw validationError(`Malformed OTLP payload: ${(error as Error).message}`, null, "malformed_otlp");
  }
}

/** The binary `ExportLogsServiceResponse` for the JSON answer (`{}` or `{partialSuccess}`). */
export function encodeOtlpProtobufResponse(response: {
  partialSuccess?: { rejectedLogRecords: string; errorMessage: string };
}): Uint8Array<ArrayBuffer> {
  const partial = response.partialSuccess;
  const message = create(ExportLogsServiceResponseSchema, {
    partialSuccess: partial ? { rejectedLogRecords: BigInt(partial.rejectedLogRecords), errorMessage: partial.errorMessage } : undefined,
  });
  return toBinary(ExportLogsServiceResponseSchema, message) as Uint8Array<ArrayBuffer>;
}

// Paths (`attr` of a 400) are only built when something is wrong: `at` makes the parent's on demand.
type At = () => Path;

/** An AnyValue (at `[...at(), key]`) as JSON text, as `anyValueJson` reads its JSON mapping. */
function anyValueJson(value: AnyValue | undefined, at: At, key: string | number, depth: number): string {
  if (depth > OTLP_LIMITS.maxValueDepth) malformed(at(), key, `values nest deeper than ${OTLP_LIMITS.maxValueDepth} levels.`);
  const v = value?.value;
  switch (v?.case) {
    case "stringValue":
      return JSON.stringify(v.value);
    case "boolValue":
      return v.value ? "true" : "false";
    case "intValue":
      return v.value.toString();
    case "doubleValue":
      // The JSON mapping writes NaN and the infinities as strings.
      return JSON.stringify(Number.isFinite(v.value) ? v.value : String(v.value));
    case "bytesValue":
      return JSON.stringify(base64Encode(v.value));
    case "arrayValue": {
      const itemsAt = () => [...at(), key, "arrayValue", "values"];
      return `[${v.value.values.map((item, i) => anyValueJson(item, itemsAt, i, depth + 1)).join(",")}]`;
    }
    case "kvlistValue": {
      const entries = keyValues(v.value.values, () => [...at(), key, "kvlistValue", "values"], depth + 1, anyValueJson);
      return `{${Object.entries(entries)
        .map(([k, json]) => `${JSON.stringify(k)}:${json}`)
        .join(",")}}`;
    }
    default:
      // Empty, or `string_value_strindex` (profiles only: OTLP says to read it as absent).
      return "null";
  }
}

/** As PostHog stores attribute values and bodies: strings as they are, other kinds as JSON text, empty as "". */
function anyValueText(value: AnyValue | undefined, at: At, key: string | number, depth: number): string {
  const v = value?.value;
  if (v?.case === "stringValue") return v.value;
  if (v?.case === "bytesValue") return base64Encode(v.value);
  const json = anyValueJson(value, at, key, depth);
  if (json === "null") return "";
  return json.startsWith('"') ? (JSON.parse(json) as string) : json;
}

type ValueReader = (value: AnyValue | undefined, at: At, key: string | number, depth: number) => string;

/** KeyValues (entries at `[...at(), i]`) as key -> value; a repeated key keeps its last value. */
function keyValues(list: KeyValue[], at: At, depth: number, read: ValueReader): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < list.length; i++) {
    const entry = list[i] as KeyValue;
    out[entry.key] = read(entry.value, () => [...at(), i], "value", depth);
  }
  return out;
}

const attributeMap = (list: KeyValue[], at: At, key: string) => keyValues(list, () => [...at(), key], 0, anyValueText);

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** A trace/span id of `size` bytes as hex; null when empty or all zeros, undefined when the size is wrong. */
function hexId(bytes: Uint8Array, size: number): string | null | undefined {
  if (bytes.length === 0) return null;
  if (bytes.length !== size) return undefined;
  let hex = "";
  let zero = true;
  for (const b of bytes) {
    if (b) zero = false;
    hex += HEX[b];
  }
  return zero ? null : hex;
}

/** Nanoseconds as microseconds, rounded as `nanosToMicros` rounds their decimal text. */
function nanosToMicros(nanos: bigint): number {
  if (nanos < 1_000_000_000_000_000_000n) return Math.floor(Number(nanos) / 1000);
  return Number(nanos / 1000n);
}

/** Flattens a decoded `ExportLogsServiceRequest` into rows (see `parseOtlpLogs` for the rules). */
export function parseOtlpProtobufLogs(request: ExportLogsServiceRequest, options: ParseOptions): ParsedLogs {
  const out = new LogRowsBuilder(options);
  const { resourceLogs } = request;
  for (let r = 0; r < resourceLogs.length; r++) {
    const { resource: resourceMessage, scopeLogs } = resourceLogs[r]!;
    const rPath = (): Path => ["resourceLogs", r];
    const resource = resourceFields(attributeMap(resourceMessage?.attributes ?? [], () => [...rPath(), "resource"], "attributes"));
    for (let s = 0; s < scopeLogs.length; s++) {
      const { scope, logRecords } = scopeLogs[s]!;
      const instrumentationScope = instrumentationScopeOf(scope?.name ?? "", scope?.version ?? "");
      for (let i = 0; i < logRecords.length; i++) {
        const record = logRecords[i]!;
        out.count();
        const path = (): Path => [...rPath(), "scopeLogs", s, "logRecords", i];
        out.add(() => path().join("."), resource, instrumentationScope, {
          body: anyValueText(record.body, path, "body", 0),
          attributes: attributeMap(record.attributes, path, "attributes"),
          severityNumber: record.severityNumber,
          severityText: record.severityText,
          traceFlags: record.flags,
          eventName: record.eventName,
          time: nanosToMicros(record.timeUnixNano),
          observed: nanosToMicros(record.observedTimeUnixNano),
          traceId: hexId(record.traceId, 16),
          spanId: hexId(record.spanId, 8),
        });
      }
    }
  }
  return out.result();
}
