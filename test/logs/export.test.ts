import { beforeAll, describe, expect, it } from "vitest";
import { parseCsv } from "../csv";
import { activityRows, call, keyWithScopes, signupFirstUser, type Tenant } from "../helpers";
import { ingest, otlpPayload, queryLogs } from "./otlp-fixtures";

let t: Tenant;
beforeAll(async () => {
  t = await signupFirstUser();
  const start = Date.now() - 40 * 60_000;
  const records = Array.from({ length: 30 }, (_, i) => ({
    ms: start + i * 1000,
    body: i === 3 ? 'quoted "body", with comma\nand newline' : `line ${i}`,
    severityNumber: i % 3 === 0 ? 17 : 9,
    attributes: { n: String(i) },
    ...(i === 0 ? { traceId: "5b8efff798038103d269b633813fc60c", spanId: "eee19b7ec3c1b174" } : {}),
  }));
  expect((await ingest(t.apiToken, otlpPayload({ exporter: records }))).status).toBe(200);
});

async function exportAndDownload(body: Record<string, unknown>) {
  const created = await call(`/api/projects/${t.projectId}/logs/export/`, { key: t.key, body });
  // 201 as PostHog answers (reference/posthog-facts.md section 3), not seed 003's "Status 200 No response body".
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  expect(created.body).toMatchObject({ export_format: "text/csv", has_content: false });
  expect(created.body.filename).toMatch(/^logs_export_\d{8}_\d{6}\.csv$/);
  for (let i = 0; i < 100; i++) {
    const status = await call(`/api/projects/${t.projectId}/exports/${created.body.id}/`, { key: t.key });
    expect(status.body.status).not.toBe("failed");
    if (status.body.status === "complete") {
      const content = await call(`/api/projects/${t.projectId}/exports/${created.body.id}/content/`, { key: t.key });
      expect(content.status).toBe(200);
      return { job: status.body, rows: parseCsv(content.body as string) };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("export did not complete");
}

describe("POST /api/projects/:id/logs/export/", () => {
  it("writes the query's logs as CSV through the exports queue and R2", async () => {
    const { job, rows } = await exportAndDownload({ query: { severityLevels: ["error"], orderBy: "earliest" } });
    expect(job).toMatchObject({ kind: "logs", format: "csv", has_content: true });
    const [header, ...data] = rows;
    expect(header).toEqual([
      "timestamp",
      "observed_timestamp",
      "level",
      "severity_number",
      "service_name",
      "body",
      "trace_id",
      "span_id",
      "event_name",
      "instrumentation_scope",
      "attributes",
      "resource_attributes",
    ]);
    const listed = await queryLogs(t.key, t.projectId, { severityLevels: ["error"], orderBy: "earliest" });
    expect(data.map((r) => r[5])).toEqual(listed.body.results.map((r: any) => r.body));
    expect(data[0]).toEqual([
      listed.body.results[0].timestamp,
      listed.body.results[0].observed_timestamp,
      "error",
      "17",
      "exporter",
      "line 0",
      "5b8efff798038103d269b633813fc60c",
      "eee19b7ec3c1b174",
      "",
      "test-scope@1.0.0",
      '{"n":"0"}',
      '{"service.name":"exporter"}',
    ]);
    expect(data[1]?.[5]).toBe('quoted "body", with comma\nand newline');
    const created = await activityRows({ scope: "ExportedAsset", activity: "created" });
    expect(created.at(-1)?.detail.context).toMatchObject({ kind: "logs", format: "csv" });
  });

  it("honours columns and a filterGroup with a regex", async () => {
    const { rows } = await exportAndDownload({
      query: { filterGroup: [{ key: "message", type: "log", operator: "regex", value: "^line 2\\d$" }] },
      columns: ["body", "level"],
    });
    expect(rows[0]).toEqual(["body", "level"]);
    expect(rows.slice(1).map((r) => r[0])).toEqual(Array.from({ length: 10 }, (_, i) => `line ${29 - i}`));
  });

  it("stops at 10,000 rows", async () => {
    const now = Date.now() - 10 * 60_000;
    for (const size of [5000, 5000, 100]) {
      const records = Array.from({ length: size }, (_, i) => ({ ms: now + i, body: "bulk" }));
      expect((await ingest(t.apiToken, otlpPayload({ bulk: records }))).status).toBe(200);
    }
    const { job, rows } = await exportAndDownload({ query: { serviceNames: ["bulk"] }, columns: ["body"] });
    expect(rows).toHaveLength(10_001);
    expect(job.progress).toMatchObject({ rows_written: 10_000, total_rows: 10_000 });
  });

  it("validates the request before queueing anything", async () => {
    const path = `/api/projects/${t.projectId}/logs/export/`;
    expect((await call(path, { key: t.key, body: { query: {}, columns: ["body", "colour"] } })).body).toMatchObject({ attr: "columns__1" });
    expect((await call(path, { key: t.key, body: { query: { limit: 5 } } })).body).toMatchObject({
      type: "validation_error",
      attr: "query__limit",
    });
    expect(
      (await call(path, { key: t.key, body: { query: { filterGroup: [{ key: "message", type: "log", operator: "regex", value: "(" }] } } }))
        .body,
    ).toMatchObject({ attr: "query__filterGroup__0__value" });
    expect((await call(path, { body: { query: {} } })).status).toBe(401);
    expect((await call(path, { key: await keyWithScopes(t, ["export:write"]), body: { query: {} } })).status).toBe(403);
  });
});
