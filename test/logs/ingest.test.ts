import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { call, fetchWorker, otherOrganization, signupFirstUser, type Tenant } from "../helpers";
import { ingest, kv, nanos, otlpPayload, queryLogs, str } from "./otlp-fixtures";

let t: Tenant;
beforeAll(async () => {
  t = await signupFirstUser();
});

const storedCount = async () => (await env.DB.prepare("SELECT count(*) AS n FROM log_records").first<{ n: number }>())?.n ?? 0;
const counterTotal = async () =>
  (await env.DB.prepare("SELECT coalesce(sum(count), 0) AS n FROM log_minute_counts").first<{ n: number }>())?.n ?? 0;

async function latest(service: string) {
  const res = await queryLogs(t.key, t.projectId, { serviceNames: [service], orderBy: "earliest" });
  expect(res.status).toBe(200);
  return res.body.results;
}

function gzip(text: string): Promise<ArrayBuffer> {
  return new Response(new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer();
}

async function postBytes(body: BodyInit, headers: Record<string, string>) {
  return fetchWorker(
    new Request("http://audit.test/i/v1/logs", { method: "POST", body, headers: { authorization: `Bearer ${t.apiToken}`, ...headers } }),
  );
}

describe("POST /i/v1/logs: OTLP/JSON", () => {
  it("stores every field of a record, with any-values of every kind as PostHog strings", async () => {
    const ms = Date.now() - 5000;
    const res = await ingest(t.apiToken, {
      resourceLogs: [
        {
          resource: {
            attributes: [kv("service.name", str("kinds")), kv("host.name", str("web-1")), kv("pod.restarts", { intValue: "3" })],
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
                  body: { kvlistValue: { values: [kv("msg", str("nested")), kv("n", { intValue: "9007199254740993" })] } },
                  attributes: [
                    kv("s", str("text")),
                    kv("b", { boolValue: false }),
                    kv("i", { intValue: "-12345678901234567890".slice(0, 20) }),
                    kv("big", { intValue: "9223372036854775807" }),
                    kv("d", { doubleValue: 2.5 }),
                    kv("nan", { doubleValue: "NaN" }),
                    kv("arr", { arrayValue: { values: [str("a"), { intValue: 1 }, { arrayValue: { values: [{ boolValue: true }] } }] } }),
                    kv("map", { kvlistValue: { values: [kv("k", str("v"))] } }),
                    kv("bytes", { bytesValue: "aGVsbG8=" }),
                    kv("empty", {}),
                    kv("dup", str("first")),
                    kv("dup", str("second")),
                  ],
                  flags: 1,
                  traceId: "5B8EFFF798038103D269B633813FC60C",
                  spanId: "eee19b7ec3c1b174",
                  eventName: "browser.click",
                },
              ],
            },
          ],
        },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    const [row] = await latest("kinds");
    expect(row).toMatchObject({
      timestamp: `${new Date(ms).toISOString().slice(0, -1)}123Z`,
      observed_timestamp: new Date(ms + 10).toISOString().replace("Z", "000Z"),
      severity_text: "warn",
      severity_number: 13,
      level: "warn",
      service_name: "kinds",
      trace_id: "5b8efff798038103d269b633813fc60c",
      span_id: "eee19b7ec3c1b174",
      trace_flags: 1,
      instrumentation_scope: "my.lib@0.9",
      event_name: "browser.click",
      resource_attributes: { "service.name": "kinds", "host.name": "web-1", "pod.restarts": "3" },
    });
    // 64-bit integers keep every digit: the body is JSON text, not a re-serialised JS number.
    expect(row.body).toBe('{"msg":"nested","n":9007199254740993}');
    expect(row.attributes).toEqual({
      s: "text",
      b: "false",
      i: "-1234567890123456789",
      big: "9223372036854775807",
      d: "2.5",
      nan: "NaN",
      arr: '["a",1,[true]]',
      map: '{"k":"v"}',
      bytes: "aGVsbG8=",
      empty: "",
      dup: "second",
    });
  });

  it("fills missing fields: no timestamp, no severity, no body, no resource", async () => {
    const before = Date.now();
    const res = await ingest(t.apiToken, { resourceLogs: [{ scopeLogs: [{ logRecords: [{}] }] }] });
    expect(res.status).toBe(200);
    const rows = await latest("");
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      body: "",
      severity_text: "info",
      severity_number: 9,
      trace_id: null,
      span_id: null,
      instrumentation_scope: "",
      attributes: {},
      resource_attributes: {},
    });
    expect(Date.parse(rows[0].timestamp)).toBeGreaterThanOrEqual(before - 1);
    expect(rows[0].timestamp).toBe(rows[0].observed_timestamp);
  });

  it("derives severity: number first, then text (aliases), then a JSON body's level; enum names accepted", async () => {
    const records = [
      { severityNumber: 21, severityText: "info", body: str("n") },
      { severityText: "WARNING", body: str("t") },
      { severityText: "crit", body: str("c") },
      { body: str('{"level":"error","msg":"from body"}') },
      { severityNumber: "SEVERITY_NUMBER_DEBUG2", body: str("e") },
      { severityNumber: 99, severityText: "trace", body: str("out of range") },
    ].map((r, i) => ({ ...r, timeUnixNano: nanos(Date.now() - 1000 + i) }));
    const res = await ingest(t.apiToken, {
      resourceLogs: [{ resource: { attributes: [kv("service.name", str("sev"))] }, scopeLogs: [{ logRecords: records }] }],
    });
    expect(res.status).toBe(200);
    const rows = await latest("sev");
    expect(rows.map((r: any) => [r.severity_text, r.severity_number])).toEqual([
      ["fatal", 21],
      ["warn", 13],
      ["fatal", 21],
      ["error", 17],
      ["debug", 6],
      ["trace", 1],
    ]);
  });

  it("uses observedTimeUnixNano when timeUnixNano is 0, and replaces timestamps outside the retention window", async () => {
    const observed = Date.now() - 60_000;
    const old = Date.now() - 40 * 86_400_000;
    const future = Date.now() + 3 * 86_400_000;
    const res = await ingest(t.apiToken, {
      resourceLogs: [
        {
          resource: { attributes: [kv("service.name", str("clock"))] },
          scopeLogs: [
            {
              logRecords: [
                { timeUnixNano: "0", observedTimeUnixNano: nanos(observed), body: str("observed") },
                { timeUnixNano: nanos(old), observedTimeUnixNano: nanos(observed + 1), body: str("too old") },
                { timeUnixNano: nanos(future), observedTimeUnixNano: nanos(observed + 2), body: str("future") },
              ],
            },
          ],
        },
      ],
    });
    expect(res.status).toBe(200);
    const rows = await latest("clock");
    expect(rows.map((r: any) => [r.body, Date.parse(r.timestamp)])).toEqual([
      ["observed", observed],
      ["too old", observed + 1],
      ["future", observed + 2],
    ]);
    expect(rows[1].attributes.$originalTimestamp).toBe(new Date(old).toISOString());
    expect(rows[2].attributes.$originalTimestamp).toBe(new Date(future).toISOString());
  });

  it("rejects records with malformed trace/span ids as a partial success and stores the others", async () => {
    const res = await ingest(
      t.apiToken,
      otlpPayload({
        ids: [
          { body: "ok", traceId: "00000000000000000000000000000000", spanId: "" },
          { body: "bad trace", traceId: "xyz" },
          { body: "short span", traceId: "5b8efff798038103d269b633813fc60c", spanId: "eee19b" },
          { body: "ok too" },
        ],
      }),
    );
    expect(res.status).toBe(200);
    expect(res.body.partialSuccess.rejectedLogRecords).toBe("2");
    expect(res.body.partialSuccess.errorMessage).toMatch(/traceId must be 32 hex characters.*spanId must be 16 hex characters/);
    const rows = await latest("ids");
    expect(rows.map((r: any) => r.body).sort()).toEqual(["ok", "ok too"]);
    expect(rows.find((r: any) => r.body === "ok").trace_id).toBeNull();
  });

  it("rejects a record larger than 128 KiB and keeps the rest", async () => {
    const res = await ingest(t.apiToken, otlpPayload({ big: [{ body: "x".repeat(140 * 1024) }, { body: "small" }] }));
    expect(res.status).toBe(200);
    expect(res.body.partialSuccess).toMatchObject({ rejectedLogRecords: "1" });
    expect((await latest("big")).map((r: any) => r.body)).toEqual(["small"]);
  });

  it("keeps the per-minute counters in step with the records", async () => {
    expect(await counterTotal()).toBe(await storedCount());
  });
});

describe("POST /i/v1/logs: malformed payloads store nothing", () => {
  const cases: [string, unknown, string | null][] = [
    ["not an object", [1, 2], null],
    ["resourceLogs not an array", { resourceLogs: {} }, "resourceLogs"],
    [
      "bad timeUnixNano",
      { resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: str("fine") }, { timeUnixNano: "yesterday" }] }] }] },
      "resourceLogs__0__scopeLogs__0__logRecords__1__timeUnixNano",
    ],
    [
      "attribute without a key",
      { resourceLogs: [{ scopeLogs: [{ logRecords: [{ attributes: [{ value: str("x") }] }] }] }] },
      "resourceLogs__0__scopeLogs__0__logRecords__0__attributes__0__key",
    ],
    [
      "stringValue of the wrong type",
      { resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 5 } }] }] }] },
      "resourceLogs__0__scopeLogs__0__logRecords__0__body__stringValue",
    ],
    [
      "intValue that is not an integer",
      { resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { intValue: "1.5" } }] }] }] },
      "resourceLogs__0__scopeLogs__0__logRecords__0__body__intValue",
    ],
    [
      "bytesValue that is not base64",
      { resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { bytesValue: "@@" } }] }] }] },
      "resourceLogs__0__scopeLogs__0__logRecords__0__body__bytesValue",
    ],
    [
      "severityNumber as text",
      { resourceLogs: [{ scopeLogs: [{ logRecords: [{ severityNumber: "high" }] }] }] },
      "resourceLogs__0__scopeLogs__0__logRecords__0__severityNumber",
    ],
  ];
  it.each(cases)("%s -> 400 with attr", async (_name, payload, attr) => {
    const before = await storedCount();
    const res = await ingest(t.apiToken, payload);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ type: "validation_error", code: "malformed_otlp", attr });
    expect(res.body.detail).toMatch(/^Malformed OTLP payload/);
    expect(await storedCount()).toBe(before);
  });

  it("rejects values nested too deep", async () => {
    let value: Record<string, unknown> = str("leaf");
    for (let i = 0; i < 20; i++) value = { arrayValue: { values: [value] } };
    const res = await ingest(t.apiToken, { resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: value }] }] }] });
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/deeper than 16 levels/);
  });

  it("answers invalid JSON with 400", async () => {
    const before = await storedCount();
    const res = await ingest(t.apiToken, null, { raw: '{"resourceLogs": [' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ type: "validation_error", code: "malformed_otlp" });
    expect(await storedCount()).toBe(before);
  });
});

describe("POST /i/v1/logs: auth, limits and encodings", () => {
  it("401 without a token, with a wrong token, or with a personal API key", async () => {
    const missing = await ingest(null, otlpPayload({ a: [{}] }));
    expect(missing.status).toBe(401);
    expect(missing.body).toMatchObject({ type: "authentication_error", code: "not_authenticated" });
    const wrong = await ingest("phc_wrong", otlpPayload({ a: [{}] }));
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({
      type: "authentication_error",
      code: "authentication_failed",
      detail: "Project API token is invalid.",
    });
    expect((await ingest(t.key, otlpPayload({ a: [{}] }))).status).toBe(401);
  });

  it("stops accepting a reset token and the token of a deleted project at once", async () => {
    const other = await otherOrganization(t);
    const token = async () => (await call(`/api/projects/${other.projectId}/`, { key: t.key })).body.api_token as string;
    const first = await token();
    expect((await ingest(first, otlpPayload({ a: [{}] }))).status).toBe(200);
    expect((await call(`/api/projects/${other.projectId}/reset_token/`, { key: t.key, method: "POST" })).status).toBe(200);
    expect((await ingest(first, otlpPayload({ a: [{}] }))).status).toBe(401);
    const second = await token();
    expect((await ingest(second, otlpPayload({ a: [{}] }))).status).toBe(200);
    expect((await call(`/api/projects/${other.projectId}/`, { key: t.key, method: "DELETE" })).status).toBe(204);
    const afterDelete = await ingest(second, otlpPayload({ a: [{}] }));
    expect(afterDelete.status).toBe(401);
    expect(afterDelete.body.code).toBe("authentication_failed");
  });

  it("answers 401, not 500, when a cached token's project was deleted elsewhere", async () => {
    const other = await otherOrganization(t);
    const token = (await call(`/api/projects/${other.projectId}/`, { key: t.key })).body.api_token as string;
    expect((await ingest(token, otlpPayload({ a: [{}] }))).status).toBe(200);
    // As another isolate (or an approved change request) would: this isolate's cache still holds the token.
    await env.DB.prepare("DELETE FROM projects WHERE id = ?").bind(other.projectId).run();
    const res = await ingest(token, otlpPayload({ a: [{}] }));
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("authentication_failed");
  });

  it("accepts the token in ?token= and stores into that project only", async () => {
    const other = await otherOrganization(t);
    const project = await call(`/api/projects/${other.projectId}/`, { key: t.key });
    const res = await call(`/i/v1/logs?token=${project.body.api_token}`, { body: otlpPayload({ "other-org": [{ body: "elsewhere" }] }) });
    expect(res.status).toBe(200);
    expect(await latest("other-org")).toHaveLength(0);
    const there = await queryLogs(t.key, other.projectId, { serviceNames: ["other-org"] });
    expect(there.body.results.map((r: any) => r.body)).toEqual(["elsewhere"]);
  });

  it("413 for more than 5000 records, storing nothing", async () => {
    const before = await storedCount();
    const records = Array.from({ length: 5001 }, () => ({ body: "x" }));
    const res = await ingest(t.apiToken, otlpPayload({ many: records }));
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ type: "invalid_request", code: "payload_too_large" });
    expect(await storedCount()).toBe(before);
  });

  it("413 for a body over 10 MiB, declared or streamed", async () => {
    const declared = await postBytes("{}", { "content-type": "application/json", "content-length": String(11 * 1024 * 1024) });
    expect(declared.status).toBe(413);
    const huge = JSON.stringify({ resourceLogs: [], padding: "x".repeat(10 * 1024 * 1024) });
    const streamed = await postBytes(new Blob([huge]).stream(), { "content-type": "application/json" });
    expect(streamed.status).toBe(413);
  });

  it("413 when a small gzip body inflates past 10 MiB", async () => {
    const bomb = await gzip(JSON.stringify({ padding: "0".repeat(12 * 1024 * 1024) }));
    expect(bomb.byteLength).toBeLessThan(100_000);
    const res = await postBytes(bomb, { "content-type": "application/json", "content-encoding": "gzip" });
    expect(res.status).toBe(413);
  });

  it("accepts gzip bodies", async () => {
    const res = await postBytes(await gzip(JSON.stringify(otlpPayload({ gz: [{ body: "compressed" }] }))), {
      "content-type": "application/json",
      "content-encoding": "gzip",
    });
    expect(res.status).toBe(200);
    expect((await latest("gz")).map((r: any) => r.body)).toEqual(["compressed"]);
  });

  it("400 for a body that is not gzip, 415 for other encodings and media types", async () => {
    const bad = await postBytes("not gzip at all", { "content-type": "application/json", "content-encoding": "gzip" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).code).toBe("malformed_otlp");
    expect((await postBytes("{}", { "content-type": "application/json", "content-encoding": "br" })).status).toBe(415);
    expect((await postBytes("{}", { "content-type": "text/plain" })).status).toBe(415);
  });

  it("answers a protobuf request with a protobuf ExportLogsServiceResponse carrying partialSuccess", async () => {
    // resource_logs { scope_logs { log_records { trace_id: 3 bytes } } }: a record with a bad trace id
    const record = [0x4a, 0x03, 0x01, 0x02, 0x03];
    const scopeLogs = [0x12, record.length, ...record];
    const resourceLogs = [0x12, scopeLogs.length, ...scopeLogs];
    const request = new Uint8Array([0x0a, resourceLogs.length, ...resourceLogs]);
    const res = await postBytes(request, { "content-type": "application/x-protobuf" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-protobuf");
    const bytes = new Uint8Array(await res.arrayBuffer());
    // field 1 (partial_success) { field 1 (rejected_log_records) = 1, field 2 (error_message) = "..." }
    expect([bytes[0], bytes[2], bytes[3], bytes[4]]).toEqual([0x0a, 0x08, 0x01, 0x12]);
    expect(new TextDecoder().decode(bytes.slice(6))).toMatch(/traceId must be 32 hex characters/);
  });

  it("400 for a protobuf body that does not decode", async () => {
    const res = await postBytes(new Uint8Array([0x0a, 0xff, 0xff, 0xff]), { "content-type": "application/x-protobuf" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).code).toBe("malformed_otlp");
  });

  it("answers CORS preflights so browser exporters can send logs", async () => {
    const preflight = await fetchWorker(
      new Request("http://audit.test/i/v1/logs", {
        method: "OPTIONS",
        headers: {
          origin: "https://shop.example",
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type,authorization",
        },
      }),
    );
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    const res = await postBytes(JSON.stringify({}), { "content-type": "application/json", origin: "https://shop.example" });
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
  });

  it("answers an empty request with 200 and stores nothing", async () => {
    const before = await storedCount();
    expect((await ingest(t.apiToken, {})).body).toEqual({});
    expect((await ingest(t.apiToken, { resourceLogs: [] })).status).toBe(200);
    expect(await storedCount()).toBe(before);
  });
});
