import { create, createFileRegistry, type DescMessage, fromBinary, fromJson, type JsonValue, toBinary, toJson } from "@bufbuild/protobuf";
import {
  type DescriptorProto,
  DescriptorProtoSchema,
  FileDescriptorProtoSchema,
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
} from "@bufbuild/protobuf/wkt";
import { validationError } from "../lib/errors";

/**
 * The OTLP logs messages (opentelemetry-proto `collector/logs/v1`, `logs/v1`, `common/v1`,
 * `resource/v1`) described field by field, so `@bufbuild/protobuf` decodes the binary encoding
 * without generated code. `severity_number` is declared int32: the same varint on the wire as the
 * SeverityNumber enum, and the JSON parser takes the integer.
 */
const PACKAGE = "opentelemetry.proto.logs.v1";

type FieldSpec = [name: string, number: number, type: Type, options?: { repeated?: boolean; message?: string; oneof?: number }];

function message(name: string, fields: FieldSpec[], oneofs: string[] = []): DescriptorProto {
  return create(DescriptorProtoSchema, {
    name,
    field: fields.map(([fieldName, number, type, options = {}]) => ({
      name: fieldName,
      jsonName: fieldName.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()),
      number,
      type,
      label: options.repeated ? Label.REPEATED : Label.OPTIONAL,
      typeName: options.message ? `.${PACKAGE}.${options.message}` : undefined,
      oneofIndex: options.oneof,
    })),
    oneofDecl: oneofs.map((oneofName) => ({ name: oneofName })),
  });
}

const msg = (name: string, repeated = false) => ({ message: name, repeated });

const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "otlp_logs.proto",
    package: PACKAGE,
    syntax: "proto3",
    messageType: [
      message("ExportLogsServiceRequest", [["resource_logs", 1, Type.MESSAGE, msg("ResourceLogs", true)]]),
      message("ExportLogsServiceResponse", [["partial_success", 1, Type.MESSAGE, msg("ExportLogsPartialSuccess")]]),
      message("ExportLogsPartialSuccess", [
        ["rejected_log_records", 1, Type.INT64],
        ["error_message", 2, Type.STRING],
      ]),
      message("ResourceLogs", [
        ["resource", 1, Type.MESSAGE, msg("Resource")],
        ["scope_logs", 2, Type.MESSAGE, msg("ScopeLogs", true)],
        ["schema_url", 3, Type.STRING],
      ]),
      message("ScopeLogs", [
        ["scope", 1, Type.MESSAGE, msg("InstrumentationScope")],
        ["log_records", 2, Type.MESSAGE, msg("LogRecord", true)],
        ["schema_url", 3, Type.STRING],
      ]),
      message("LogRecord", [
        ["time_unix_nano", 1, Type.FIXED64],
        ["severity_number", 2, Type.INT32],
        ["severity_text", 3, Type.STRING],
        ["body", 5, Type.MESSAGE, msg("AnyValue")],
        ["attributes", 6, Type.MESSAGE, msg("KeyValue", true)],
        ["dropped_attributes_count", 7, Type.UINT32],
        ["flags", 8, Type.FIXED32],
        ["trace_id", 9, Type.BYTES],
        ["span_id", 10, Type.BYTES],
        ["observed_time_unix_nano", 11, Type.FIXED64],
        ["event_name", 12, Type.STRING],
      ]),
      message("Resource", [
        ["attributes", 1, Type.MESSAGE, msg("KeyValue", true)],
        ["dropped_attributes_count", 2, Type.UINT32],
      ]),
      message("InstrumentationScope", [
        ["name", 1, Type.STRING],
        ["version", 2, Type.STRING],
        ["attributes", 3, Type.MESSAGE, msg("KeyValue", true)],
        ["dropped_attributes_count", 4, Type.UINT32],
      ]),
      message("KeyValue", [
        ["key", 1, Type.STRING],
        ["value", 2, Type.MESSAGE, msg("AnyValue")],
      ]),
      message(
        "AnyValue",
        [
          ["string_value", 1, Type.STRING, { oneof: 0 }],
          ["bool_value", 2, Type.BOOL, { oneof: 0 }],
          ["int_value", 3, Type.INT64, { oneof: 0 }],
          ["double_value", 4, Type.DOUBLE, { oneof: 0 }],
          ["array_value", 5, Type.MESSAGE, { message: "ArrayValue", oneof: 0 }],
          ["kvlist_value", 6, Type.MESSAGE, { message: "KeyValueList", oneof: 0 }],
          ["bytes_value", 7, Type.BYTES, { oneof: 0 }],
        ],
        ["value"],
      ),
      message("ArrayValue", [["values", 1, Type.MESSAGE, msg("AnyValue", true)]]),
      message("KeyValueList", [["values", 1, Type.MESSAGE, msg("KeyValue", true)]]),
    ],
  }),
  () => undefined,
);

function messageDesc(name: string): DescMessage {
  const desc = registry.getMessage(`${PACKAGE}.${name}`);
  if (!desc) throw new Error(`OTLP descriptor ${name} missing`);
  return desc;
}

const RequestSchema = messageDesc("ExportLogsServiceRequest");
const ResponseSchema = messageDesc("ExportLogsServiceResponse");

function base64ToHex(value: unknown): unknown {
  if (typeof value !== "string") return value;
  let hex = "";
  for (const char of atob(value)) hex += char.charCodeAt(0).toString(16).padStart(2, "0");
  return hex;
}

/**
 * A binary `ExportLogsServiceRequest` in the OTLP/JSON mapping (camelCase, 64-bit integers as
 * strings, bytes as base64 except trace/span ids, which OTLP/JSON writes in hex), so both
 * encodings go through the same validation.
 */
export function decodeOtlpProtobuf(bytes: Uint8Array): unknown {
  let json: JsonValue;
  try {
    json = toJson(RequestSchema, fromBinary(RequestSchema, bytes));
  } catch (error) {
    throw validationError(`Malformed OTLP payload: ${(error as Error).message}`, null, "malformed_otlp");
  }
  const request = json as { resourceLogs?: { scopeLogs?: { logRecords?: Record<string, unknown>[] }[] }[] };
  for (const resourceLogs of request.resourceLogs ?? []) {
    for (const scopeLogs of resourceLogs.scopeLogs ?? []) {
      for (const record of scopeLogs.logRecords ?? []) {
        record.traceId = base64ToHex(record.traceId);
        record.spanId = base64ToHex(record.spanId);
      }
    }
  }
  return request;
}

/** The binary `ExportLogsServiceResponse` for the JSON answer (`{}` or `{partialSuccess}`). */
export function encodeOtlpProtobufResponse(response: object): Uint8Array<ArrayBuffer> {
  return toBinary(ResponseSchema, fromJson(ResponseSchema, response as JsonValue));
}
