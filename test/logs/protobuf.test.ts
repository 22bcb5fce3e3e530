import { env } from "cloudflare:workers";
import { create, fromBinary, type MessageInitShape, toBinary, toJson } from "@bufbuild/protobuf";
import { beforeAll, describe, expect, it } from "vitest";
import { ApiError } from "../../src/lib/errors";
import {
  type ExportLogsServiceRequest,
  ExportLogsServiceRequestSchema,
  ExportLogsServiceResponseSchema,
} from "../../src/logs/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb";
import type { AnyValueSchema } from "../../src/logs/gen/opentelemetry/proto/common/v1/common_pb";
import type { SeverityNumber } from "../../src/logs/gen/opentelemetry/proto/logs/v1/logs_pb";
import { type ParsedLogs, parseOtlpLogs } from "../../src/logs/otlp";
import { parseOtlpProtobufLogs } from "../../src/logs/otlp-protobuf";
import { fetchWorker, signupFirstUser, type Tenant } from "../helpers";
import { queryLogs } from "./otlp-fixtures";

let t: Tenant;
beforeAll(async () => {
  t = await signupFirstUser();
});

type RequestInit = MessageInitShape<typeof ExportLogsServiceRequestSchema>;
type ValueInit = MessageInitShape<typeof AnyValueSchema>;
/** A severity number outside the enum (the wire allows any int32). */
const OUT_OF_RANGE = 30 as SeverityNumber;

const storedCount = async () => (await env.DB.prepare("SELECT count(*) AS n FROM log_records").first<{ n: number }>())?.n ?? 0;
const nanos = (ms: number, extra = 0) => BigInt(ms) * 1_000_000n + BigInt(extra);
const str = (value: string): ValueInit => ({ value: { case: "stringValue", value } });
const kv = (key: string, value?: ValueInit) => ({ key, value });
const hex = (text: string) => Uint8Array.from(text.match(/../g)!.map((h) => Number.parseInt(h, 16)));
const protobuf = (init: RequestInit) => toBinary(ExportLogsServiceRequestSchema, create(ExportLogsServiceRequestSchema, init));

async function post(body: BodyInit, headers: Record<string, string> = {}) {
  return fetchWorker(
    new Request("http://audit.test/i/v1/logs", {
      method: "POST",
      body,
      headers: { authorization: `Bearer ${t.apiToken}`, "content-type": "application/x-protobuf", ...headers },
    }),
  );
}

async function latest(service: string) {
  const res = await queryLogs(t.key, t.projectId, { serviceNames: [service], orderBy: "earliest" });
  expect(res.status).toBe(200);
  return res.body.results;
}

/** Every AnyValue kind, nested ones included. */
const ALL_KINDS = [
  kv("s", str("text")),
  kv("b", { value: { case: "boolValue", value: false } }),
  kv("i", { value: { case: "intValue", value: -1234567890123456789n } }),
  kv("big", { value: { case: "intValue", value: 9223372036854775807n } }),
  kv("d", { value: { case: "doubleValue", value: 2.5 } }),
  kv("nan", { value: { case: "doubleValue", value: Number.NaN } }),
  kv("inf", { value: { case: "doubleValue", value: Number.NEGATIVE_INFINITY } }),
  kv("arr", {
    value: {
      case: "arrayValue",
      value: {
        values: [
          str("a"),
          { value: { case: "intValue", value: 1n } },
          { value: { case: "arrayValue", value: { values: [{ value: { case: "boolValue", value: true } }, {}] } } },
          { value: { case: "doubleValue", value: Number.POSITIVE_INFINITY } },
        ],
      },
    },
  }),
  kv("map", {
    value: { case: "kvlistValue", value: { values: [kv("k", str("v")), kv("2", { value: { case: "intValue", value: 2n } })] } },
  }),
  kv("bytes", { value: { case: "bytesValue", value: new TextEncoder().encode("hello") } }),
  kv("empty", {}),
  kv("unset"),
  // Profiles only: OTLP says other signals read it as absent.
  kv("strindex", { value: { case: "stringValueStrindex", value: 4 } }),
  kv("dup", str("first")),
  kv("dup", str("second")),
];
const ALL_KINDS_STORED = {
  s: "text",
  b: "false",
  i: "-1234567890123456789",
  big: "9223372036854775807",
  d: "2.5",
  nan: "NaN",
  inf: "-Infinity",
  arr: '["a",1,[true,null],"Infinity"]',
  map: '{"2":2,"k":"v"}',
  bytes: "aGVsbG8=",
  empty: "",
  unset: "",
  strindex: "",
  dup: "second",
};

describe("POST /i/v1/logs: OTLP protobuf (generated messages)", () => {
  it("stores every field of a record built with create/toBinary, with any-values of every kind as PostHog strings", async () => {
    const ms = Date.now() - 5000;
    const res = await post(
      protobuf({
        resourceLogs: [
          {
            resource: {
              attributes: [
                kv("service.name", str("pb-kinds")),
                kv("host.name", str("web-1")),
                kv("pod.restarts", { value: { case: "intValue", value: 3n } }),
              ],
            },
            scopeLogs: [
              {
                scope: { name: "my.lib", version: "0.9" },
                logRecords: [
                  {
                    timeUnixNano: nanos(ms, 123_789),
                    observedTimeUnixNano: nanos(ms + 10),
                    severityNumber: 13,
                    severityText: "Warning",
                    body: {
                      value: {
                        case: "kvlistValue",
                        value: { values: [kv("msg", str("nested")), kv("n", { value: { case: "intValue", value: 9007199254740993n } })] },
                      },
                    },
                    attributes: ALL_KINDS,
                    flags: 1,
                    traceId: hex("5B8EFFF798038103D269B633813FC60C"),
                    spanId: hex("eee19b7ec3c1b174"),
                    eventName: "browser.click",
                  },
                  // A bytes body is stored as its base64 text, a double body as its JSON number.
                  { timeUnixNano: nanos(ms + 1), body: { value: { case: "bytesValue", value: Uint8Array.of(0, 255) } } },
                  { timeUnixNano: nanos(ms + 2), body: { value: { case: "doubleValue", value: 0.1 } } },
                ],
              },
            ],
          },
        ],
      }),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-protobuf");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(new Uint8Array());
    const [row, bytesRow, doubleRow] = await latest("pb-kinds");
    expect(row).toMatchObject({
      timestamp: `${new Date(ms).toISOString().slice(0, -1)}123Z`,
      observed_timestamp: new Date(ms + 10).toISOString().replace("Z", "000Z"),
      severity_text: "warn",
      severity_number: 13,
      service_name: "pb-kinds",
      trace_id: "5b8efff798038103d269b633813fc60c",
      span_id: "eee19b7ec3c1b174",
      trace_flags: 1,
      instrumentation_scope: "my.lib@0.9",
      event_name: "browser.click",
      resource_attributes: { "service.name": "pb-kinds", "host.name": "web-1", "pod.restarts": "3" },
    });
    expect(row.body).toBe('{"msg":"nested","n":9007199254740993}');
    expect(row.attributes).toEqual(ALL_KINDS_STORED);
    expect(bytesRow.body).toBe("AP8=");
    expect(doubleRow.body).toBe("0.1");
  });

  it("answers partial success as a protobuf ExportLogsServiceResponse", async () => {
    const res = await post(
      protobuf({
        resourceLogs: [
          {
            resource: { attributes: [kv("service.name", str("pb-ids"))] },
            scopeLogs: [{ logRecords: [{ body: str("bad"), traceId: Uint8Array.of(1, 2, 3) }, { body: str("good") }] }],
          },
        ],
      }),
    );
    expect(res.status).toBe(200);
    const answer = fromBinary(ExportLogsServiceResponseSchema, new Uint8Array(await res.arrayBuffer()));
    expect(answer.partialSuccess?.rejectedLogRecords).toBe(1n);
    expect(answer.partialSuccess?.errorMessage).toMatch(/logRecords\.0: traceId must be 32 hex characters/);
    expect((await latest("pb-ids")).map((r: any) => r.body)).toEqual(["good"]);
  });

  it("accepts gzipped protobuf", async () => {
    const body = protobuf({
      resourceLogs: [
        { resource: { attributes: [kv("service.name", str("pb-gz"))] }, scopeLogs: [{ logRecords: [{ body: str("zipped") }] }] },
      ],
    });
    const gz = await new Response(new Blob([body]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer();
    expect((await post(gz, { "content-encoding": "gzip" })).status).toBe(200);
    expect((await latest("pb-gz")).map((r: any) => r.body)).toEqual(["zipped"]);
  });

  /** A length-delimited field: tag byte, length, bytes (all short here). */
  const field = (tag: number, ...bytes: number[]) => [tag, bytes.length, ...bytes];
  const malformed: [string, Uint8Array][] = [
    ["a truncated length-delimited field", Uint8Array.of(0x0a, 0xff, 0xff, 0xff)],
    // resource_logs (field 1) sent as a varint
    ["a field with the wrong wire type", Uint8Array.of(0x08, 0x01)],
    // resource_logs { scope_logs { scope { name: 0xff } } }
    ["a string that is not UTF-8", Uint8Array.from(field(0x0a, ...field(0x12, ...field(0x0a, ...field(0x0a, 0xff)))))],
    // resource_logs { scope_logs { log_records { severity_number: a varint cut short } } }
    ["a varint cut short", Uint8Array.from(field(0x0a, ...field(0x12, ...field(0x12, 0x10, 0xff, 0xff, 0xff))))],
  ];

  it.each(malformed)("400 in the error envelope for %s, storing nothing", async (_name, body) => {
    const before = await storedCount();
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const error = (await res.json()) as Record<string, unknown>;
    expect(error).toEqual({
      type: "validation_error",
      code: "malformed_otlp",
      detail: expect.stringMatching(/^Malformed OTLP payload: /),
      attr: null,
      request_id: res.headers.get("x-request-id"),
    });
    expect(await storedCount()).toBe(before);
  });

  it("400 naming the path for values nested deeper than 16 levels, as OTLP/JSON does", async () => {
    let value: ValueInit = str("leaf");
    for (let i = 0; i < 20; i++) value = { value: { case: "arrayValue", value: { values: [value] } } };
    const res = await post(protobuf({ resourceLogs: [{ scopeLogs: [{ logRecords: [{}, { attributes: [kv("deep", value)] }] }] }] }));
    expect(res.status).toBe(400);
    const error = (await res.json()) as Record<string, string>;
    expect(error).toMatchObject({ type: "validation_error", code: "malformed_otlp" });
    expect(error.detail).toMatch(/deeper than 16 levels/);
    expect(error.attr).toBe(`resourceLogs__0__scopeLogs__0__logRecords__1__attributes__0__value${"__arrayValue__values__0".repeat(17)}`);
  });
});

/**
 * The protobuf reader must store exactly what the OTLP/JSON parser stores for the JSON mapping of
 * the same message (what the ingestion did before it read messages directly: `toJson`, then ids
 * from base64 to hex).
 */
function viaJsonMapping(message: ExportLogsServiceRequest, now: number): ParsedLogs | ApiError {
  const json = toJson(ExportLogsServiceRequestSchema, message) as any;
  const toHex = (b64?: string) =>
    b64 === undefined ? b64 : [...atob(b64)].map((c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
  for (const r of json.resourceLogs ?? []) {
    for (const s of r.scopeLogs ?? []) {
      for (const record of s.logRecords ?? []) {
        record.traceId = toHex(record.traceId);
        record.spanId = toHex(record.spanId);
      }
    }
  }
  return outcome(() => parseOtlpLogs(json, { now, oldestMs: now - 30 * 86_400_000 }));
}

function outcome(parse: () => ParsedLogs): ParsedLogs | ApiError {
  try {
    const parsed = parse();
    for (const row of parsed.rows) row.uuid = "";
    return parsed;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
}

describe("reading a protobuf message stores what the JSON mapping of it stores", () => {
  const now = Date.now();
  const cases: [string, RequestInit][] = [
    [
      "every kind of value, ids, times and scopes",
      {
        resourceLogs: [
          {
            resource: { attributes: [kv("service.name", str("a")), ...ALL_KINDS] },
            scopeLogs: [
              {
                scope: { name: "lib", version: "1" },
                logRecords: [
                  {
                    timeUnixNano: nanos(now - 1000, 999),
                    observedTimeUnixNano: nanos(now),
                    severityNumber: 17,
                    body: { value: { case: "arrayValue", value: { values: ALL_KINDS.map((k) => k.value ?? {}) } } },
                    attributes: ALL_KINDS,
                    flags: 0xffffffff,
                    traceId: hex("0af7651916cd43dd8448eb211c80319c"),
                    spanId: hex("b7ad6b7169203331"),
                    eventName: "e",
                  },
                  { body: { value: { case: "kvlistValue", value: { values: ALL_KINDS } } } },
                  { body: str('{"severity":"warning"}') },
                  { severityNumber: OUT_OF_RANGE, severityText: "crit" },
                  { severityNumber: OUT_OF_RANGE },
                  { traceId: new Uint8Array(16), spanId: new Uint8Array(8) },
                  { traceId: Uint8Array.of(1), body: str("rejected: short trace id") },
                  { spanId: new Uint8Array(9), body: str("rejected: long span id") },
                  { body: str("x".repeat(130 * 1024)) },
                ],
              },
              { scope: { name: "bare" }, logRecords: [{ body: {} }, { body: { value: { case: "bytesValue", value: new Uint8Array() } } }] },
            ],
          },
          { scopeLogs: [{ logRecords: [{ timeUnixNano: 1n, observedTimeUnixNano: nanos(now - 5) }] }] },
          { resource: {}, scopeLogs: [] },
        ],
      },
    ],
    [
      "timestamps around the rounding edges",
      {
        resourceLogs: [
          {
            scopeLogs: [
              {
                logRecords: [
                  { timeUnixNano: 999_999_999_999_999_999n, observedTimeUnixNano: nanos(now) },
                  { timeUnixNano: 1_000_000_000_000_000_000n, observedTimeUnixNano: nanos(now) },
                  { timeUnixNano: 123_456_789_012_345_678n, observedTimeUnixNano: nanos(now) },
                  { timeUnixNano: 18_446_744_073_709_551_615n, observedTimeUnixNano: nanos(now) },
                  { timeUnixNano: nanos(now + 2 * 86_400_000), observedTimeUnixNano: nanos(now) },
                ],
              },
            ],
          },
        ],
      },
    ],
    ["an empty request", {}],
    [
      "a value nested too deep in a body",
      {
        resourceLogs: [
          {
            scopeLogs: [
              {
                logRecords: [
                  {
                    body: Array.from({ length: 18 }).reduce<ValueInit>(
                      (v) => ({ value: { case: "kvlistValue", value: { values: [kv("x", v)] } } }),
                      str("leaf"),
                    ),
                  },
                ],
              },
            ],
          },
        ],
      },
    ],
    ["too many records", { resourceLogs: [{ scopeLogs: [{ logRecords: Array.from({ length: 5001 }, () => ({})) }] }] }],
  ];

  it.each(cases)("%s", (_name, init) => {
    const message = create(ExportLogsServiceRequestSchema, init);
    const expected = viaJsonMapping(message, now);
    const actual = outcome(() => parseOtlpProtobufLogs(message, { now, oldestMs: now - 30 * 86_400_000 }));
    if (expected instanceof ApiError) {
      expect(actual).toBeInstanceOf(ApiError);
      const error = actual as ApiError;
      expect([error.status, error.code, error.detail, error.attr]).toEqual([
        expected.status,
        expected.code,
        expected.detail,
        expected.attr,
      ]);
    } else {
      expect(actual).toEqual(expected);
    }
  });

  it('reads an empty attribute key as the key "" (as OTLP/JSON\'s "key": ""), where the JSON mapping would omit it', () => {
    const message = create(ExportLogsServiceRequestSchema, {
      resourceLogs: [{ scopeLogs: [{ logRecords: [{ attributes: [kv("", str("v"))] }] }] }],
    });
    const parsed = parseOtlpProtobufLogs(message, { now, oldestMs: now - 86_400_000 });
    expect(parsed.rows[0]?.attributes).toEqual({ "": "v" });
  });
});
