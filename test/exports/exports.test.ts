import { env } from "cloudflare:workers";
import ExcelJS from "exceljs";
import { beforeAll, describe, expect, it } from "vitest";
import { sealAllShards } from "../../src/audit/sequencer";
import { R2ChunkedWriter } from "../../src/exports/r2-chunked-writer";
import type { ExportMessage } from "../../src/lib/messages";
import { QUEUE_NAMES } from "../../src/queues";
import { ingest, waitForExport } from "../activity/activity-helpers";
import { parseCsv } from "../csv";
import { activityRows, addMember, call, fetchWorker, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";
import { runQueue } from "../queue-helpers";

let owner: Tenant;
let admin: Tenant;
let member: Tenant;

const tricky = {
  scope: "FeatureFlag",
  activity: "updated",
  item_id: "=SUM(A1:A2)",
  detail: {
    name: 'quote " comma , newline \n done',
    changes: [{ type: "FeatureFlag", action: "changed", field: "note", before: "ü", after: "✓" }],
  },
};

beforeAll(async () => {
  owner = await signupFirstUser();
  admin = await addMember(owner, 8);
  member = await addMember(owner, 1);
  await ingest(
    owner,
    [
      tricky,
      ...Array.from({ length: 30 }, (_, i) => ({
        scope: "Insight",
        activity: "created",
        item_id: `i${i}`,
        detail: { name: `insight ${i}` },
      })),
    ],
    {
      "X-PostHog-Client": "sdk",
    },
  );
});

const COLUMNS = [
  "id",
  "organization_id",
  "project_id",
  "user_first_name",
  "user_last_name",
  "user_email",
  "activity",
  "scope",
  "item_id",
  "detail",
  "client",
  "ip_address",
  "created_at",
  "recorded_by_user_id",
  "recorded_by_user_email",
  "recorded_by_api_key_id",
  "user_id",
  "was_impersonated",
  "is_system",
  "sequence",
  "hash",
  "hash_version",
];

async function expectedRows(predicate: (row: Record<string, any>) => boolean) {
  const rows = (await activityRows()).filter(predicate).sort((a, b) => b.created_at - a.created_at || (b.id < a.id ? -1 : 1));
  const chain = new Map(
    (
      await env.DB.prepare("SELECT seq, sequence, hash, hash_version FROM activity_chain").all<{
        seq: number;
        sequence: number;
        hash: string;
        hash_version: number;
      }>()
    ).results.map((c) => [c.seq, c]),
  );
  return rows.map((r) => [
    r.id,
    r.organization_id,
    r.team_id === null ? "" : String(r.team_id),
    r.user_id === owner.userId ? "Olive" : "",
    r.user_id === owner.userId ? "Owner" : "",
    r.user_id === owner.userId ? expect.stringContaining("@example.com") : "",
    r.activity,
    r.scope,
    r.item_id ?? "",
    r.detail && Object.keys(r.detail).length ? JSON.stringify(r.detail) : "",
    r.client ?? "",
    r.ip_address ?? "",
    new Date(r.created_at).toISOString(),
    r.recorded_by_user_id === null ? "" : String(r.recorded_by_user_id),
    r.recorded_by_user_id === owner.userId ? expect.stringContaining("@example.com") : "",
    r.recorded_by_key_id ?? "",
    r.user_id === null ? "" : String(r.user_id),
    r.was_impersonated ? "true" : "false",
    r.is_system ? "true" : "false",
    String(chain.get(r.seq)?.sequence ?? ""),
    chain.get(r.seq)?.hash ?? "",
    String(chain.get(r.seq)?.hash_version ?? ""),
  ]);
}

async function exportAndWait(tenant: Tenant, body: unknown, scope: "project" | "organization" = "project") {
  const base = scope === "project" ? `/api/projects/${tenant.projectId}` : `/api/organizations/${tenant.organizationId}`;
  await sealAllShards(env);
  const started = await call(`${base}/advanced_activity_logs/export/`, { key: tenant.key, body });
  expect(started.status).toBe(202);
  const status = await waitForExport(`${base}/exports/${started.body.id}/`, tenant.key);
  return { started: started.body, status, base };
}

describe("activity export", () => {
  it("writes the filtered rows as CSV with PostHog's columns and a guarded formula cell", async () => {
    const { started, status, base } = await exportAndWait(owner, {
      format: "csv",
      filters: { scopes: ["FeatureFlag", "Insight"], clients: "sdk" },
    });
    expect(started.export_format).toBe("csv");
    expect(status).toMatchObject({
      status: "complete",
      has_content: true,
      kind: "activity_log",
      format: "csv",
      export_format: "text/csv",
      exception: null,
    });
    expect(status.filename).toMatch(/^activity_logs_[0-9a-f]{6}_\d{8}\.csv$/);
    expect(status.progress).toEqual({ rows_written: 31, total_rows: 31, percent: 100 });

    const file = await call(`${base}/exports/${started.id}/content/`, { key: owner.key });
    expect(file.status).toBe(200);
    expect(file.headers.get("content-type")).toBe("text/csv");
    expect(file.headers.get("content-disposition")).toBe(`attachment; filename="${status.filename}"`);
    // Response.text() drops a byte order mark, so the raw bytes show it: UTF-8, for Excel.
    const raw = await fetchWorker(
      new Request(`http://audit.test${base}/exports/${started.id}/content/`, { headers: { authorization: `Bearer ${owner.key}` } }),
    );
    const bytes = new Uint8Array(await raw.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(bytes).startsWith("\uFEFFid,organization_id,")).toBe(true);
    expect(new TextDecoder().decode(bytes)).toContain("ü");
    const [header, ...rows] = parseCsv(file.body as string);
    expect(header).toEqual(COLUMNS);
    const expected = await expectedRows((r) => r.team_id === owner.projectId && r.client === "sdk");
    const guarded = expected.map((row) => row.map((cell) => (cell === "=SUM(A1:A2)" ? "'=SUM(A1:A2)" : cell)));
    expect(rows).toEqual(guarded);
    expect(rows.find((r) => r[8] === "'=SUM(A1:A2)")![9]).toBe(JSON.stringify(tricky.detail));
  });

  it("writes XLSX through exceljs that reads back typed cells under a frozen header", async () => {
    const { started, status, base } = await exportAndWait(owner, { format: "xlsx", filters: { item_ids: ["=SUM(A1:A2)", "i3"] } });
    expect(status.filename).toMatch(/^activity_logs_[0-9a-f]{6}_\d{8}\.xlsx$/);
    const res = await fetchWorker(
      new Request(`http://audit.test${base}/exports/${started.id}/content/`, { headers: { authorization: `Bearer ${owner.key}` } }),
    );
    expect(res.headers.get("content-type")).toBe("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(await res.arrayBuffer());
    const sheet = workbook.worksheets[0]!;
    const values = sheet.getSheetValues().slice(1) as unknown[][];
    const cells = values.map((row) => COLUMNS.map((_, i) => row[i + 1] ?? ""));
    expect(cells[0]).toEqual(COLUMNS);
    const expected = await expectedRows((r) => r.team_id === owner.projectId && ["=SUM(A1:A2)", "i3"].includes(r.item_id));
    // A number as a number, a timestamp as a date cell; text as text (XLSX needs no formula guard:
    // a text cell is never evaluated).
    const typed = expected.map((row) =>
      row.map((cell, i) => ([2, 13, 16, 19, 21].includes(i) && cell !== "" ? Number(cell) : i === 12 ? new Date(cell) : cell)),
    );
    expect(cells.slice(1)).toEqual(typed);
    expect(sheet.getCell("C2").type).toBe(ExcelJS.ValueType.Number);
    expect(sheet.getCell("M2").type).toBe(ExcelJS.ValueType.Date);
    expect(sheet.getCell("M2").numFmt).toBe("yyyy-mm-dd hh:mm:ss.000");
    expect(sheet.views[0]).toMatchObject({ state: "frozen", ySplit: 1 });
    expect(sheet.getRow(1).font?.bold).toBe(true);
    const widths = sheet.columns.map((column) => column.width);
    expect(widths[0]).toBe(38); // a UUID and its margin
    expect(widths[12]).toBe(24);
    // exceljs reads a width of 9 (its default) back as unset.
    expect(Math.max(...(widths.filter((w) => w !== undefined && w !== null) as number[]))).toBeLessThanOrEqual(60);
  });

  it("names the file by a hash of the filters", async () => {
    const a = await exportAndWait(owner, { format: "csv", filters: { scopes: "Insight" } });
    const b = await exportAndWait(owner, { format: "csv", filters: { scopes: ["Insight"] } });
    const c = await exportAndWait(owner, { format: "csv", filters: { scopes: ["FeatureFlag"] } });
    expect(a.status.filename).toBe(b.status.filename);
    expect(a.status.filename).not.toBe(c.status.filename);
  });

  it("records the export's creation and completion in the activity log", async () => {
    const { started } = await exportAndWait(owner, { format: "csv" });
    const rows = (await activityRows({ scope: "ExportedAsset" })).filter((r) => r.item_id === started.id);
    expect(rows.map((r) => [r.activity, r.user_id, r.is_system])).toEqual([
      ["created", owner.userId, 0],
      ["exported", null, 1],
    ]);
    expect(rows[0]!.detail.context).toMatchObject({ kind: "activity_log", format: "csv" });
  });

  it("exports an organization's rows for admins, readable at the organization path", async () => {
    const { started, status, base } = await exportAndWait(
      admin,
      { format: "csv", filters: { scopes: ["OrganizationMembership"] } },
      "organization",
    );
    expect(status.status).toBe("complete");
    const file = await call(`${base}/exports/${started.id}/content/`, { key: admin.key });
    const [, ...rows] = parseCsv(file.body as string);
    const expected = (await activityRows({ scope: "OrganizationMembership" })).filter((r) => r.organization_id === owner.organizationId);
    expect(rows.map((r) => r[0]).sort()).toEqual(expected.map((r) => r.id).sort());
    expect(rows.every((r) => r[2] === "")).toBe(true);
    expect((await call(`/api/projects/${owner.projectId}/exports/${started.id}/`, { key: admin.key })).status).toBe(404);
    expect((await call(`${base}/exports/${started.id}/`, { key: member.key })).status).toBe(403);
  });

  it("applies seed 001's example body fields (`user`, `activity`, `scope`) as filters on the organization export", async () => {
    const { started, base } = await exportAndWait(admin, { user: owner.userUuid, activity: "created", scope: "Insight" }, "organization");
    const file = await call(`${base}/exports/${started.id}/content/`, { key: admin.key });
    const [, ...rows] = parseCsv(file.body as string);
    const expected = (await activityRows({ scope: "Insight", activity: "created" })).filter((r) => r.user_id === owner.userId);
    expect(rows.map((r) => r[0]).sort()).toEqual(expected.map((r) => r.id).sort());
    expect(rows).toHaveLength(30);
    const path = `/api/organizations/${owner.organizationId}/advanced_activity_logs/export/`;
    const conflict = await call(path, { key: admin.key, body: { scope: "Insight", filters: { scopes: ["FeatureFlag"] } } });
    expect(conflict.body).toMatchObject({ type: "validation_error", attr: "scope" });
    const unknown = await call(path, { key: admin.key, body: { detail: {}, activity: "created" } });
    expect(unknown.body).toMatchObject({ type: "validation_error", detail: "Unknown field: detail." });
  });

  it("validates the request", async () => {
    const path = `/api/projects/${owner.projectId}/advanced_activity_logs/export/`;
    expect((await call(path, { key: owner.key, body: { format: "pdf" } })).body.attr).toBe("format");
    expect((await call(path, { key: owner.key, body: { filters: { users: ["x"] } } })).body.attr).toBe("filters__users__0");
    expect((await call(path, { key: owner.key, body: { filters: { detail_filters: { a__b: { value: 1 } } } } })).body.attr).toBe(
      "detail_filters",
    );
  });
});

describe("export status and download access", () => {
  it("is private to the requester, needs export:read, and hides other organizations", async () => {
    const { started, base } = await exportAndWait(owner, { format: "csv" });
    const statusPath = `${base}/exports/${started.id}/`;
    expect((await call(statusPath, { key: member.key })).status).toBe(404);
    expect((await call(`${statusPath}content/`, { key: member.key })).status).toBe(404);
    expect((await call(statusPath)).status).toBe(401);
    const activityOnly = await keyWithScopes(owner, ["activity_log:read"]);
    expect((await call(statusPath, { key: activityOnly })).status).toBe(403);
    const exportReader = await keyWithScopes(owner, ["export:read"]);
    expect((await call(statusPath, { key: exportReader })).status).toBe(200);
    const foreign = await otherOrganization(member);
    expect((await call(`/api/projects/${foreign.projectId}/exports/${started.id}/`, { key: member.key })).status).toBe(404);
    expect((await call(`/api/projects/${owner.projectId}/exports/not-an-id/`, { key: owner.key })).status).toBe(404);
  });

  it("answers 409 for content that is not ready", async () => {
    const id = crypto.randomUUID();
    await env.DB.prepare(
      `INSERT INTO exports (id, organization_id, team_id, kind, format, filters, filename, status, created_by_id, created_at)
       VALUES (?1, ?2, ?3, 'activity_log', 'csv', '{}', 'x.csv', 'running', ?4, ?5)`,
    )
      .bind(id, owner.organizationId, owner.projectId, owner.userId, Date.now())
      .run();
    const res = await call(`/api/projects/${owner.projectId}/exports/${id}/content/`, { key: owner.key });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: "export_not_ready", detail: "This export is running." });
  });
});

describe("exports queue consumer", () => {
  // A job whose stored filters are unusable fails inside the producer, as an unexpected error would.
  async function brokenJob(kind = "activity_log") {
    const id = crypto.randomUUID();
    await env.DB.prepare(
      `INSERT INTO exports (id, organization_id, team_id, kind, format, filters, filename, status, created_by_id, created_at)
       VALUES (?1, ?2, ?3, ?4, 'csv', '{}', 'broken.csv', 'pending', ?5, ?6)`,
    )
      .bind(id, owner.organizationId, owner.projectId, kind, owner.userId, Date.now())
      .run();
    return id;
  }
  const deliver = (exportId: string, attempts: number) =>
    runQueue<ExportMessage>(QUEUE_NAMES.exports, [{ id: `m-${attempts}`, attempts, body: { exportId } }]);

  it("records a failure on the job and retries it with backoff", async () => {
    const id = await brokenJob();
    const result = await deliver(id, 1);
    expect(result.retryMessages).toEqual([{ msgId: "m-1" }]);
    expect(result.delays).toEqual([10]);
    const status = await call(`/api/projects/${owner.projectId}/exports/${id}/`, { key: owner.key });
    expect(status.body).toMatchObject({ status: "pending", attempts: 1 });
    expect(status.body.exception).toBeTruthy();
  });

  it("fails a job it can never run at once", async () => {
    const id = await brokenJob("no_such_kind");
    const result = await deliver(id, 1);
    expect(result.explicitAcks).toEqual(["m-1"]);
    const status = await call(`/api/projects/${owner.projectId}/exports/${id}/`, { key: owner.key });
    expect(status.body).toMatchObject({ status: "failed", exception: 'Unknown export kind "no_such_kind".' });
  });

  it("marks the job failed after the last attempt, with an activity row", async () => {
    const id = await brokenJob();
    const result = await deliver(id, 4);
    expect(result.explicitAcks).toEqual(["m-4"]);
    const status = await call(`/api/projects/${owner.projectId}/exports/${id}/`, { key: owner.key });
    expect(status.body).toMatchObject({ status: "failed", has_content: false });
    expect(status.body.exception).toBeTruthy();
    expect((await call(`/api/projects/${owner.projectId}/exports/${id}/content/`, { key: owner.key })).body.detail).toMatch(
      /^This export failed: /,
    );
    const rows = (await activityRows({ scope: "ExportedAsset" })).filter((r) => r.item_id === id);
    expect(rows.map((r) => r.activity)).toEqual(["export_failed"]);
  });

  it("does nothing for a finished job delivered again", async () => {
    const { started } = await exportAndWait(owner, { format: "csv" });
    const result = await deliver(started.id, 1);
    expect(result.explicitAcks).toEqual(["m-1"]);
    const rows = (await activityRows({ scope: "ExportedAsset" })).filter((r) => r.item_id === started.id);
    expect(rows.map((r) => r.activity)).toEqual(["created", "exported"]);
  });
});

describe("R2ChunkedWriter", () => {
  it("uploads a large file part by part and a small one in one put", async () => {
    const big = new R2ChunkedWriter(env.EXPORTS_BUCKET, "test/big.bin", { contentType: "application/octet-stream" });
    const chunk = new Uint8Array(1024 * 1024);
    for (let i = 0; i < 12; i++) {
      chunk.fill(i);
      await big.write(chunk);
    }
    await big.close();
    const object = await env.EXPORTS_BUCKET.get("test/big.bin");
    const bytes = new Uint8Array(await object!.arrayBuffer());
    expect(bytes.length).toBe(12 * 1024 * 1024);
    expect([bytes[0], bytes[5 * 1024 * 1024], bytes[12 * 1024 * 1024 - 1]]).toEqual([0, 5, 11]);
    expect(big.size).toBe(bytes.length);

    const small = new R2ChunkedWriter(env.EXPORTS_BUCKET, "test/small.txt", { contentType: "text/plain" });
    await small.write(new TextEncoder().encode("hello"));
    await small.close();
    const smallObject = await env.EXPORTS_BUCKET.get("test/small.txt");
    expect(await smallObject!.text()).toBe("hello");
    expect(smallObject!.httpMetadata?.contentType).toBe("text/plain");
  });
});
