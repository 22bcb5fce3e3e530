import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { countLogs } from "../../src/logs/count.queries";
import { call, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";
import { ingest, otlpPayload, type RecordSpec } from "./otlp-fixtures";

let t: Tenant;
const now = Date.now();
const minuteStart = Math.floor(now / 60_000) * 60_000;
interface Spec extends RecordSpec {
  service: string;
}
const specs: Spec[] = [];

beforeAll(async () => {
  t = await signupFirstUser();
  // 60 records over the last 50 minutes: two services, three severities, uneven seconds.
  for (let i = 0; i < 60; i++) {
    specs.push({
      service: i % 3 === 0 ? "billing" : "web",
      ms: minuteStart - 50 * 60_000 + i * 49_000 + (i % 7) * 1000,
      severityNumber: [9, 13, 17][i % 3 === 0 ? 2 : i % 2],
      body: i % 4 === 0 ? `request ${i} failed` : `request ${i} ok`,
      attributes: { "http.status": i % 4 === 0 ? "500" : "200", "user.id": `u${i % 5}`, ...(i % 10 === 0 ? { rare: "yes" } : {}) },
    });
  }
  const byService: Record<string, RecordSpec[]> = {};
  for (const s of specs) byService[s.service] = [...(byService[s.service] ?? []), s];
  const res = await ingest(t.apiToken, otlpPayload(byService, { region: "eu" }));
  expect(res.status).toBe(200);
});

const level = (s: Spec) => ({ 9: "info", 13: "warn", 17: "error" })[s.severityNumber as 9 | 13 | 17];
const post = (path: string, query: Record<string, unknown>) =>
  call(`/api/projects/${t.projectId}/logs/${path}/`, { key: t.key, body: { query } });
const sum = (points: { count: number }[]) => points.reduce((n, p) => n + p.count, 0);

describe("POST sparkline/", () => {
  it("buckets the last hour by minute, per severity, summing to the total", async () => {
    const res = await post("sparkline", {});
    expect(res.status).toBe(200);
    expect(sum(res.body)).toBe(60);
    for (const point of res.body) expect(Date.parse(point.time) % 60_000).toBe(0);
    const expected = new Map<string, number>();
    for (const s of specs) {
      const key = `${new Date(Math.floor((s.ms as number) / 60_000) * 60_000).toISOString()}|${level(s)}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    expect(new Map(res.body.map((p: any) => [`${p.time}|${p.severity}`, p.count]))).toEqual(expected);
    const times = res.body.map((p: any) => p.time);
    expect([...times].sort()).toEqual(times);
  });

  it("breaks down by service, and filters like query/", async () => {
    const byService = await post("sparkline", { sparklineBreakdownBy: "service" });
    expect(sum(byService.body.filter((p: any) => p.service === "billing"))).toBe(20);
    expect(byService.body.every((p: any) => p.severity === undefined)).toBe(true);
    const errors = await post("sparkline", { severityLevels: ["error"] });
    expect(sum(errors.body)).toBe(specs.filter((s) => level(s) === "error").length);
    const failed = await post("sparkline", { searchTerm: "FAILED" });
    expect(sum(failed.body)).toBe(15);
    const rare = await post("sparkline", { filterGroup: [{ key: "rare", type: "log_attribute", operator: "is_set" }] });
    expect(sum(rare.body)).toBe(6);
    const regex = await post("sparkline", { filterGroup: [{ key: "message", type: "log", operator: "regex", value: "request \\d*5 " }] });
    expect(sum(regex.body)).toBe(specs.filter((s) => /request \d*5 /.test(s.body as string)).length);
  });

  it("picks the interval from the range: 10 s for ten minutes, 4 h for a week", async () => {
    const short = await post("sparkline", {
      dateRange: { date_from: new Date(now - 600_000).toISOString(), date_to: new Date(now).toISOString() },
    });
    expect(short.body.every((p: any) => Date.parse(p.time) % 10_000 === 0)).toBe(true);
    expect(sum(short.body)).toBe(specs.filter((s) => (s.ms as number) >= now - 600_000 && (s.ms as number) < now).length);
    const week = await post("sparkline", { dateRange: { date_from: "-7d" } });
    expect(week.body.every((p: any) => Date.parse(p.time) % (4 * 3_600_000) === 0)).toBe(true);
    expect(sum(week.body)).toBe(60);
  });
});

describe("counting", () => {
  it("POST count/ agrees with query/ for every kind of filter", async () => {
    const cases: Record<string, unknown>[] = [
      {},
      { severityLevels: ["warn", "error"] },
      { serviceNames: ["billing"] },
      { searchTerm: "ok" },
      { filterGroup: [{ key: "http.status", type: "log_attribute", operator: "exact", value: "500" }] },
      { filterGroup: [{ key: "message", type: "log", operator: "not_regex", value: "ok$" }] },
    ];
    for (const query of cases) {
      const count = await post("count", query);
      const listed = await post("query", { ...query, limit: 1000 });
      expect(count.status).toBe(200);
      expect(count.body.count).toBe(listed.body.results.length);
    }
  });

  it("countLogs gives the same answer from the per-minute counters as from the records, for any window", async () => {
    const db = createDb(env.DB);
    for (let i = 0; i < 25; i++) {
      const from = minuteStart - 55 * 60_000 + Math.floor(Math.random() * 40 * 60_000);
      const to = from + Math.floor(Math.random() * 20 * 60_000) + 1;
      const expected = specs.filter((s) => level(s) === "error" && (s.ms as number) >= from && (s.ms as number) < to).length;
      // severityLevels alone is answered from the counters; the same condition as a filterGroup reads the records.
      expect(await countLogs(db, t.projectId, { severityLevels: ["error"] }, from, to)).toBe(expected);
      const viaRecords = await countLogs(
        db,
        t.projectId,
        { filterGroup: [{ key: "severity_level", type: "log", operator: "exact", value: "error" }] },
        new Date(from),
        new Date(to),
      );
      expect(viaRecords).toBe(expected);
    }
    expect(await countLogs(db, t.projectId, {}, minuteStart - 60 * 60_000, minuteStart + 60_000)).toBe(60);
    expect(await countLogs(db, t.projectId, { serviceNames: ["web"] }, minuteStart - 60 * 60_000, minuteStart + 60_000)).toBe(40);
  });
});

describe("GET attributes/, values/, has_logs/", () => {
  const get = (path: string, key = t.key) => call(`/api/projects/${t.projectId}/logs/${path}`, { key });

  it("lists attribute keys, most used first, with search, type, paging and count", async () => {
    const all = await get("attributes/");
    expect(all.status).toBe(200);
    expect(all.body.results.map((r: any) => r.name)).toEqual(["http.status", "user.id", "rare"]);
    expect(all.body.results[0]).toEqual({ name: "http.status", propertyFilterType: "log_attribute", matchedOn: "key" });
    expect(all.body.count).toBe(3);
    const search = await get("attributes/?search=US");
    expect(search.body.results.map((r: any) => r.name)).toEqual(["http.status", "user.id"]);
    const paged = await get("attributes/?limit=1&offset=1");
    expect(paged.body).toMatchObject({ results: [{ name: "user.id" }], count: 3 });
    const resource = await get("attributes/?attribute_type=resource");
    expect(resource.body.results.map((r: any) => [r.name, r.propertyFilterType]).sort()).toEqual([
      ["region", "log_resource_attribute"],
      ["service.name", "log_resource_attribute"],
    ]);
    const billingOnly = await get(`attributes/?serviceNames=${encodeURIComponent('["billing"]')}`);
    expect(billingOnly.body.results.map((r: any) => r.name)).toEqual(["http.status", "user.id", "rare"]);
    const repeated = await get("attributes/?serviceNames=billing&serviceNames=nothing");
    expect(repeated.body.results).toEqual(billingOnly.body.results);
    const old = await get(`attributes/?dateRange=${encodeURIComponent('{"date_from":"-30d","date_to":"-2d"}')}`);
    expect(old.body).toEqual({ results: [], count: 0 });
  });

  it("lists values of a key, most frequent first, filtered by substring", async () => {
    const res = await get("values/?key=http.status");
    expect(res.body).toEqual({
      results: [
        { id: "200", name: "200", count: 45 },
        { id: "500", name: "500", count: 15 },
      ],
      refreshing: false,
    });
    expect((await get("values/?key=user.id&value=4")).body.results).toEqual([{ id: "u4", name: "u4", count: 12 }]);
    expect((await get("values/?key=service.name&attribute_type=resource")).body.results.map((r: any) => r.name)).toEqual([
      "web",
      "billing",
    ]);
  });

  it("narrows attributes and values with a filterGroup by sampling matching logs", async () => {
    const filterGroup = encodeURIComponent(
      JSON.stringify([{ key: "http.status", type: "log_attribute", operator: "exact", value: "500" }]),
    );
    const values = await get(`values/?key=user.id&filterGroup=${filterGroup}`);
    expect(values.status).toBe(200);
    const expected = new Map<string, number>();
    for (const s of specs.filter((x) => x.attributes?.["http.status"] === "500")) {
      const v = s.attributes?.["user.id"] as string;
      expected.set(v, (expected.get(v) ?? 0) + 1);
    }
    expect(new Map(values.body.results.map((r: any) => [r.name, r.count]))).toEqual(expected);
    const keys = await get(
      `attributes/?filterGroup=${encodeURIComponent(JSON.stringify([{ key: "rare", type: "log_attribute", operator: "is_not_set" }]))}`,
    );
    expect(keys.body.results.map((r: any) => r.name)).toEqual(["http.status", "user.id"]);
  });

  it("validates parameters", async () => {
    expect((await get("values/")).body).toMatchObject({ type: "validation_error", attr: "key" });
    expect((await get("attributes/?dateRange=%7Bnope")).body).toMatchObject({ type: "validation_error", attr: "dateRange" });
    expect((await get("attributes/?attribute_type=span")).body).toMatchObject({ attr: "attribute_type" });
    expect((await get("attributes/?limit=101")).body).toMatchObject({ attr: "limit" });
  });

  it("takes up to 1,000 serviceNames (99 were a 500: one bound parameter each) and answers 400 beyond", async () => {
    const names = (n: number) => encodeURIComponent(JSON.stringify(["billing", ...Array.from({ length: n - 1 }, (_, i) => `svc-${i}`)]));
    for (const path of ["attributes/", "values/?key=user.id"]) {
      const sep = path.includes("?") ? "&" : "?";
      const many = await get(`${path}${sep}serviceNames=${names(1000)}`);
      expect(many.status, JSON.stringify(many.body)).toBe(200);
      expect(many.body.results.length).toBeGreaterThan(0);
      expect((await get(`${path}${sep}serviceNames=${names(1001)}`)).body).toMatchObject({
        type: "validation_error",
        attr: "serviceNames",
      });
    }
  });

  it("has_logs is true once logs arrive, false for a project without any", async () => {
    expect((await get("has_logs/")).body).toEqual({ hasLogs: true });
    const other = await otherOrganization(t);
    const res = await call(`/api/projects/${other.projectId}/logs/has_logs/`, { key: t.key });
    expect(res.body).toEqual({ hasLogs: false });
  });

  it("needs logs:read on every lookup", async () => {
    const key = await keyWithScopes(t, ["project:read"]);
    for (const path of ["attributes/", "values/?key=a", "has_logs/"]) {
      expect((await get(path, key)).status).toBe(403);
      expect((await call(`/api/projects/${t.projectId}/logs/${path}`)).status).toBe(401);
    }
    for (const path of ["sparkline", "count"]) {
      expect((await call(`/api/projects/${t.projectId}/logs/${path}/`, { key, body: { query: {} } })).status).toBe(403);
    }
  });
});

describe("attribute value index bounds", () => {
  it("indexes the 100 most frequent values of a key per request, and every record still", async () => {
    const records = Array.from({ length: 300 }, (_, i) => ({ body: "card", attributes: { card: i < 100 ? "common" : `c${i}` } }));
    expect((await ingest(t.apiToken, otlpPayload({ cards: records }))).status).toBe(200);
    const values = await call(`/api/projects/${t.projectId}/logs/values/?key=card`, { key: t.key });
    expect(values.body.results).toHaveLength(100);
    expect(values.body.results[0]).toEqual({ id: "common", name: "common", count: 100 });
    const count = await call(`/api/projects/${t.projectId}/logs/count/`, { key: t.key, body: { query: { serviceNames: ["cards"] } } });
    expect(count.body.count).toBe(300);
  });
});
