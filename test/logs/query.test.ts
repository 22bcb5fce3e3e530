import { beforeAll, describe, expect, it } from "vitest";
import { addMember, call, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";
import { ingest, kv, nanos, otlpPayload, queryLogs, str } from "./otlp-fixtures";

let t: Tenant;
const base = Date.now() - 30 * 60_000;
const TRACE = "0af7651916cd43dd8448eb211c80319c";

beforeAll(async () => {
  t = await signupFirstUser();
  const record = (i: number, body: string, severityNumber: number, attributes: Record<string, string>, traceId?: string) => ({
    timeUnixNano: nanos(base + i * 1000),
    severityNumber,
    body: str(body),
    attributes: Object.entries(attributes).map(([k, v]) => kv(k, str(v))),
    ...(traceId ? { traceId } : {}),
  });
  const resource = (service: string, region: string) => ({ attributes: [kv("service.name", str(service)), kv("region", str(region))] });
  const res = await ingest(t.apiToken, {
    resourceLogs: [
      {
        resource: resource("api", "eu"),
        scopeLogs: [
          {
            logRecords: [
              record(1, "GET /users 200", 9, { "http.status": "200", "http.method": "GET", latency: "12.5", when: "2026-01-05T10:00:00Z" }),
              record(2, "GET /orders 500 boom", 17, { "http.status": "500", "http.method": "GET", latency: "250" }),
              record(3, "slow query 100% done_x", 13, { "http.status": "200", "http.method": "POST", latency: "99" }),
            ],
          },
        ],
      },
      {
        resource: resource("worker", "us"),
        scopeLogs: [
          {
            logRecords: [
              record(4, "job started", 9, { job: "email" }),
              record(5, "Job FAILED: timeout", 17, { job: "email", latency: "abc" }),
              record(6, "heartbeat", 5, {}, TRACE),
            ],
          },
        ],
      },
    ],
  });
  expect(res.status).toBe(200);
  const old = await ingest(t.apiToken, otlpPayload({ api: [{ body: "two days ago", ms: Date.now() - 2 * 86_400_000 }] }));
  expect(old.status).toBe(200);
});

async function bodies(query: Record<string, unknown>): Promise<string[]> {
  const res = await queryLogs(t.key, t.projectId, { orderBy: "earliest", ...query });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.results.map((r: any) => r.body);
}

const attr = (key: string, operator: string, value?: unknown) => ({ key, type: "log_attribute", operator, value });
const message = (operator: string, value?: unknown) => ({ key: "message", type: "log", operator, value });
const ALL = ["GET /users 200", "GET /orders 500 boom", "slow query 100% done_x", "job started", "Job FAILED: timeout", "heartbeat"];

describe("POST /api/projects/:id/logs/query/ filters", () => {
  it("returns the last hour by default, newest first", async () => {
    const res = await queryLogs(t.key, t.projectId, {});
    expect(res.body.results.map((r: any) => r.body)).toEqual([...ALL].reverse());
    expect(res.body).toMatchObject({ hasMore: false, nextCursor: null, maxExportableLogs: 10000 });
    expect(res.body.query).toMatchObject({ orderBy: "latest", limit: 100 });
  });

  it("severityLevels, serviceNames and searchTerm (case-insensitive, % and _ literal)", async () => {
    expect(await bodies({ severityLevels: ["error"] })).toEqual(["GET /orders 500 boom", "Job FAILED: timeout"]);
    expect(await bodies({ serviceNames: ["worker"], severityLevels: ["info", "debug"] })).toEqual(["job started", "heartbeat"]);
    expect(await bodies({ searchTerm: "JOB" })).toEqual(["job started", "Job FAILED: timeout"]);
    expect(await bodies({ searchTerm: "100%" })).toEqual(["slow query 100% done_x"]);
    expect(await bodies({ searchTerm: "w_q" })).toEqual([]);
  });

  it.each([
    ["exact on a string", [attr("http.status", "exact", "200")], [ALL[0], ALL[2]]],
    ["exact on a number", [attr("http.status", "exact", 500)], [ALL[1]]],
    ["exact on a list", [attr("http.status", "exact", ["200", "500"])], ALL.slice(0, 3)],
    ["exact never matches a value held by another key", [attr("http.status", "exact", "GET")], []],
    ["exact empty string matches a missing key", [attr("job", "exact", "")], [ALL[0], ALL[1], ALL[2], ALL[5]]],
    ["is_not (missing counts as different)", [attr("http.status", "is_not", "200")], [ALL[1], ALL[3], ALL[4], ALL[5]]],
    ["icontains", [attr("http.method", "icontains", "pos")], [ALL[2]]],
    ["not_icontains on message", [message("not_icontains", "job")], [ALL[0], ALL[1], ALL[2], ALL[5]]],
    ["icontains on message", [message("icontains", "BOOM")], [ALL[1]]],
    ["regex on message", [message("regex", "^GET /\\w+ 5\\d\\d")], [ALL[1]]],
    ["not_regex with (?i)", [message("not_regex", "(?i)^job")], [ALL[0], ALL[1], ALL[2], ALL[5]]],
    ["gt numeric (text values never match)", [attr("latency", "gt", 100)], [ALL[1]]],
    ["lt numeric string", [attr("latency", "lt", "50")], [ALL[0]]],
    ["gt on text compares text", [attr("job", "gt", "a")], [ALL[3], ALL[4]]],
    ["is_date_exact on a day", [attr("when", "is_date_exact", "2026-01-05")], [ALL[0]]],
    ["is_date_before", [attr("when", "is_date_before", "2026-01-06T00:00:00Z")], [ALL[0]]],
    ["is_date_after (nothing after)", [attr("when", "is_date_after", "2026-01-06")], []],
    ["is_set", [attr("job", "is_set")], [ALL[3], ALL[4]]],
    ["is_not_set", [attr("job", "is_not_set")], [ALL[0], ALL[1], ALL[2], ALL[5]]],
    ["resource attribute", [{ key: "region", type: "log_resource_attribute", operator: "exact", value: "us" }], ALL.slice(3)],
    ["trace_id in any case", [{ key: "trace_id", type: "log", operator: "exact", value: TRACE.toUpperCase() }], [ALL[5]]],
    ["severity_level", [{ key: "severity_level", type: "log", operator: "exact", value: ["error"] }], [ALL[1], ALL[4]]],
    ["two filters AND-ed", [attr("http.status", "exact", "200"), attr("http.method", "exact", "GET")], [ALL[0]]],
    ["regex AND-ed with SQL filters", [message("regex", "^[a-z]"), attr("job", "is_set")], [ALL[3]]],
  ])("filterGroup %s", async (_name, filterGroup, expected) => {
    expect(await bodies({ filterGroup })).toEqual(expected);
  });

  it("accepts PostHog's PropertyGroupFilter with OR groups", async () => {
    const filterGroup = {
      type: "OR",
      values: [
        { type: "AND", values: [attr("http.status", "exact", "500")] },
        { type: "AND", values: [attr("job", "exact", "email"), message("icontains", "started")] },
      ],
    };
    expect(await bodies({ filterGroup })).toEqual([ALL[1], ALL[3]]);
    expect(await bodies({ filterGroup: { type: "AND", values: [{ type: "AND", values: [] }] } })).toEqual(ALL);
  });

  it("filters by date range: relative, absolute, and the cut at date_to", async () => {
    expect(await bodies({ dateRange: { date_from: "-7d" }, serviceNames: ["api"] })).toEqual(["two days ago", ...ALL.slice(0, 3)]);
    const from = new Date(base + 2000).toISOString();
    const to = new Date(base + 4000).toISOString();
    expect(await bodies({ dateRange: { date_from: from, date_to: to } })).toEqual([ALL[1], ALL[2]]);
    expect(await bodies({ dateRange: { date_from: "-40M" } })).toEqual(ALL);
    expect(await bodies({ dateRange: { date_from: "-10M" } })).toEqual([]);
  });
});

describe("POST /api/projects/:id/logs/query/ validation", () => {
  it.each([
    ["limit over 1000", { limit: 1001 }, "query__limit"],
    ["unknown severity", { severityLevels: ["verbose"] }, "query__severityLevels__0"],
    ["unknown order", { orderBy: "random" }, "query__orderBy"],
    ["bad date", { dateRange: { date_from: "last tuesday" } }, "query__dateRange__date_from"],
    ["from after to", { dateRange: { date_from: "-1h", date_to: "-2h" } }, "query__dateRange__date_from"],
    ["bad cursor", { after: "not-a-cursor" }, "query__after"],
    ["invalid regex", { filterGroup: [message("regex", "(unclosed")] }, "query__filterGroup__0__value"],
    ["unknown log field", { filterGroup: [{ key: "colour", type: "log", operator: "exact", value: "red" }] }, "query__filterGroup__0__key"],
    ["exact without a value", { filterGroup: [attr("job", "exact")] }, "query__filterGroup__0__value"],
    ["gt with a list", { filterGroup: [attr("latency", "gt", [1, 2])] }, "query__filterGroup__0__value"],
    ["bad date value", { filterGroup: [attr("when", "is_date_before", "soon")] }, "query__filterGroup__0__value"],
    [
      "regex inside an OR",
      { filterGroup: { type: "OR", values: [message("regex", "a"), message("icontains", "b")] } },
      "query__filterGroup__values__0__operator",
    ],
  ])("%s -> 400", async (_name, query, expectedAttr) => {
    const res = await queryLogs(t.key, t.projectId, query);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ type: "validation_error", attr: expectedAttr });
  });

  it("rejects unknown fields, at any depth", async () => {
    const top = await queryLogs(t.key, t.projectId, { severity: ["error"] });
    expect(top.body).toMatchObject({ type: "validation_error", attr: "query__severity" });
    const nested = await queryLogs(t.key, t.projectId, { filterGroup: [{ ...attr("job", "is_set"), negate: true }] });
    expect(nested.body).toMatchObject({ type: "validation_error", attr: "query__filterGroup__0__negate" });
  });

  it("excludeAttributes answers empty attribute maps", async () => {
    const res = await queryLogs(t.key, t.projectId, { excludeAttributes: true, limit: 1 });
    expect(res.body.results[0]).toMatchObject({ attributes: {}, resource_attributes: {} });
    expect(res.body.results[0].body).toBe("heartbeat");
  });

  it("requires the query object", async () => {
    const res = await call(`/api/projects/${t.projectId}/logs/query/`, { key: t.key, body: {} });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: "required", attr: "query" });
  });
});

describe("cursor pagination", () => {
  beforeAll(async () => {
    const start = Date.now() - 20 * 60_000;
    const records = Array.from({ length: 25 }, (_, i) => ({
      body: `p${String(i).padStart(2, "0")}${i % 2 ? " odd" : ""}`,
      // ten records share one timestamp: the uuid breaks the tie
      ms: i < 10 ? start : start + i * 1000,
    }));
    expect((await ingest(t.apiToken, otlpPayload({ pager: records }))).status).toBe(200);
  });

  async function walk(query: Record<string, unknown>) {
    const seen: any[] = [];
    let after: string | undefined;
    for (let pages = 0; pages < 20; pages++) {
      const res = await queryLogs(t.key, t.projectId, { serviceNames: ["pager"], limit: 4, ...query, ...(after ? { after } : {}) });
      expect(res.status).toBe(200);
      seen.push(...res.body.results);
      if (!res.body.hasMore) {
        expect(res.body.nextCursor).toBeNull();
        return seen;
      }
      expect(res.body.results).toHaveLength(4);
      after = res.body.nextCursor;
    }
    throw new Error("did not finish");
  }

  it.each(["latest", "earliest"])("walks every record exactly once, %s first", async (orderBy) => {
    const rows = await walk({ orderBy });
    expect(rows).toHaveLength(25);
    expect(new Set(rows.map((r) => r.uuid)).size).toBe(25);
    const keys = rows.map((r) => `${r.timestamp}|${r.uuid}`);
    const sorted = [...keys].sort();
    expect(keys).toEqual(orderBy === "earliest" ? sorted : sorted.reverse());
  });

  it("pages through regex-filtered results without overlap", async () => {
    const rows = await walk({ orderBy: "earliest", filterGroup: [message("regex", "odd$")] });
    expect(rows.map((r) => r.body)).toHaveLength(12);
    expect(rows.every((r) => r.body.endsWith("odd"))).toBe(true);
    expect(new Set(rows.map((r) => r.uuid)).size).toBe(12);
  });

  it("decodes the cursor as PostHog's base64 {timestamp, uuid}", async () => {
    const res = await queryLogs(t.key, t.projectId, { serviceNames: ["pager"], limit: 1 });
    const cursor = JSON.parse(atob(res.body.nextCursor));
    expect(cursor).toEqual({ timestamp: res.body.results[0].timestamp, uuid: res.body.results[0].uuid });
  });
});

describe("access", () => {
  it("401 without a key, 403 without logs:read, 404 for another organization; logs:write implies read", async () => {
    const path = `/api/projects/${t.projectId}/logs/query/`;
    expect((await call(path, { body: { query: {} } })).status).toBe(401);
    const noScope = await call(path, { key: await keyWithScopes(t, ["activity_log:read"]), body: { query: {} } });
    expect(noScope.status).toBe(403);
    expect(noScope.body.detail).toBe("API key missing required scope 'logs:read'");
    expect((await call(path, { key: await keyWithScopes(t, ["logs:write"]), body: { query: {} } })).status).toBe(200);
    const other = await otherOrganization(t);
    const outsider = await keyWithScopes(t, ["logs:read"], { scoped_organizations: [other.organizationId] });
    expect((await call(path, { key: outsider, body: { query: {} } })).status).toBe(403);
  });

  it("404 for a project of an organization the user is not in", async () => {
    const other = await otherOrganization(t);
    const stranger = await addMember({ ...t, organizationId: other.organizationId });
    const res = await call(`/api/projects/${t.projectId}/logs/query/`, { key: stranger.key, body: { query: {} } });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ type: "invalid_request", code: "not_found" });
    expect((await call(`/api/projects/${other.projectId}/logs/query/`, { key: stranger.key, body: { query: {} } })).status).toBe(200);
  });

  it("serves the environments alias", async () => {
    const res = await call(`/api/environments/${t.projectId}/logs/query`, { key: t.key, body: { query: { limit: 1 } } });
    expect(res.status).toBe(200);
    expect(res.body.results).toHaveLength(1);
  });
});

describe("OpenAPI", () => {
  it("documents the ingestion endpoint and every logs route", async () => {
    const doc = await call("/api/schema/");
    const paths = Object.keys(doc.body.paths);
    for (const path of ["query", "sparkline", "count", "attributes", "values", "has_logs", "export"]) {
      expect(paths).toContain(`/api/projects/{project_id}/logs/${path}`);
    }
    const ingestion = doc.body.paths["/i/v1/logs"].post;
    expect(Object.keys(ingestion.requestBody.content)).toEqual(["application/json", "application/x-protobuf"]);
    expect(ingestion.security).toEqual([{ ProjectAPIToken: [] }]);
    expect(doc.body.components.securitySchemes.ProjectAPIToken).toMatchObject({ type: "http", scheme: "bearer" });
  });

  it("accepts a trailing slash on the ingestion path", async () => {
    const res = await call("/i/v1/logs/", { key: t.apiToken, body: {} });
    expect(res.status).toBe(200);
  });
});
