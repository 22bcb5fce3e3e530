// D1 round trips per endpoint: each endpoint once against a small seeded tenant, as the response's
// `Server-Timing: db;desc="N round trips"` reports them (exact counts, not timings). Fast: about 30 s.
// `ROUNDTRIPS_JSON=file` also writes the rows as JSON (docs/performance.md's before/after table).
import { writeFileSync } from "node:fs";

/** The reads issue 15 item 2 names, then a few others and the writes, as `[name, path, body?]`. */
function endpoints(t, ids) {
  const project = `/api/projects/${t.projectId}`;
  const organization = `/api/organizations/${t.organizationId}`;
  const range = { dateRange: { date_from: "-1h" } };
  return [
    ["activity list", `${project}/activity_log/`],
    ["activity list, page=1 (with count)", `${project}/activity_log/?page=1`],
    ["advanced list (project)", `${project}/advanced_activity_logs/?scopes=Dashboard`],
    ["advanced list (organization)", `${organization}/advanced_activity_logs/`],
    ["available_filters (project)", `${project}/advanced_activity_logs/available_filters/`],
    ["available_filters (organization)", `${organization}/advanced_activity_logs/available_filters/`],
    ["SD Elements feed", "/api/v2/activities/"],
    ["logs query", `${project}/logs/query/`, { query: range }],
    ["logs sparkline", `${project}/logs/sparkline/`, { query: range }],
    ["logs attributes", `${project}/logs/attributes/?attribute_type=log`],
    ["logs values", `${project}/logs/values/?attribute_type=log&key=route`],
    ["logs count", `${project}/logs/count/`, { query: range }],
    ["alerts list", `${project}/logs/alerts/`],
    ["alert retrieve", `${project}/logs/alerts/${ids.alert}/`],
    ["alert events", `${project}/logs/alerts/${ids.alert}/events/`],
    ["change requests list", `${project}/change_requests/`],
    ["change request retrieve", `${project}/change_requests/${ids.changeRequest}/`],
    ["destinations list (project)", `${project}/destinations/`],
    ["destinations list (organization)", `${organization}/destinations/`],
    ["destination deliveries", `${project}/destinations/${ids.destination}/deliveries/`],
    ["GET /api/users/@me/", "/api/users/@me/"],
    ["GET /api/projects/:id/", `${project}/`],
  ];
}

export async function run(ctx) {
  const state = ctx.freshState("roundtrips");
  const worker = await ctx.startWorker(state);
  try {
    const t = await ctx.signup(worker);
    const project = `/api/projects/${t.projectId}`;
    const write = async (path, body, init = {}) => {
      const res = await ctx.request(worker, path, { key: t.key, body, ...init });
      if (res.status >= 300) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
      return res;
    };
    const entries = Array.from({ length: 50 }, (_, i) => ({
      scope: "Dashboard",
      activity: "updated",
      item_id: `d${i % 5}`,
      detail: { name: `D${i}` },
    }));
    const ingest = await write(`${project}/activity_log/`, { entries });
    const now = Date.now();
    const logs = {
      resourceLogs: [
        {
          resource: { attributes: [{ key: "service.name", value: { stringValue: "api" } }] },
          scopeLogs: [
            {
              logRecords: Array.from({ length: 100 }, (_, i) => ({
                timeUnixNano: String((now - i * 1000) * 1e6),
                severityText: i % 10 ? "info" : "error",
                body: { stringValue: `request ${i}` },
                attributes: [{ key: "route", value: { stringValue: `/r${i % 4}` } }],
              })),
            },
          ],
        },
      ],
    };
    const logsIngest = await ctx.request(worker, "/i/v1/logs", { body: logs, headers: { authorization: `Bearer ${t.apiToken}` } });
    if (logsIngest.status !== 200) throw new Error(`logs ingest: ${logsIngest.status}`);
    const alert = (await write(`${project}/logs/alerts/`, { name: "errors", filters: { severityLevels: ["error"] } })).body;
    const destination = (
      await write(`${project}/destinations/`, {
        name: "hook",
        type: "webhook",
        url: "https://example.com/hook",
        events: ["change_request_created"],
      })
    ).body;
    await write(`${project}/approval_policies/`, { action_key: "app.thing.update", approver_config: { users: [t.userId], quorum: 1 } });
    const changeRequest = (
      await write(`${project}/change_requests/`, {
        action_key: "app.thing.update",
        resource_type: "Thing",
        resource_id: "1",
        intent: { full_request_data: { on: true } },
        intent_display: { description: "Turn the thing on" },
      })
    ).body;

    const rows = [];
    for (const [endpoint, path, body] of endpoints(t, { alert: alert.id, destination: destination.id, changeRequest: changeRequest.id })) {
      const res = await ctx.request(worker, path, { key: t.key, body });
      rows.push({ endpoint, status: res.status, "round trips": res.roundTrips });
    }
    rows.push(
      { endpoint: "activity ingest (write, 50 entries)", status: ingest.status, "round trips": ingest.roundTrips },
      { endpoint: "logs ingest (write, 100 records, OTLP JSON)", status: logsIngest.status, "round trips": logsIngest.roundTrips },
    );
    const invalid = await ctx.request(worker, `${project}/activity_log/`, { key: "phx_invalid" });
    rows.push({ endpoint: "activity list, invalid key", status: invalid.status, "round trips": invalid.roundTrips });
    ctx.table("D1 round trips per request (Server-Timing db desc), one request each", rows);

    // Read replication plumbing under wrangler dev (local sessions, one database): a write answers a
    // bookmark, a read sending it back sees the write and answers a bookmark at least as new.
    const created = await write("/api/projects/", { name: "Replicated", organization: t.organizationId });
    const bookmark = created.headers.get("x-d1-bookmark");
    const read = await ctx.request(worker, `/api/projects/${created.body.id}/`, {
      key: t.key,
      headers: { "x-d1-bookmark": bookmark ?? "" },
    });
    const after = read.headers.get("x-d1-bookmark");
    const refused = await ctx.request(worker, "/healthz", { headers: { "x-d1-bookmark": "not a bookmark" } });
    const plumbing = [
      { check: "write answers X-D1-Bookmark", result: bookmark ? `yes (${bookmark})` : "NO" },
      {
        check: "read with it sees the write",
        result: read.status === 200 && read.body.name === "Replicated" ? "yes" : `NO (${read.status})`,
      },
      { check: "read answers a bookmark >= the write's", result: after && bookmark && after >= bookmark ? `yes (${after})` : "NO" },
      { check: "a malformed bookmark is a 400", result: refused.status === 400 ? "yes" : `NO (${refused.status})` },
    ];
    ctx.table("D1 Sessions API under wrangler dev", plumbing);
    if (plumbing.some((p) => p.result.startsWith("NO"))) throw new Error("replication plumbing failed");
    if (process.env.ROUNDTRIPS_JSON) writeFileSync(process.env.ROUNDTRIPS_JSON, JSON.stringify(rows, null, 2));
  } finally {
    await worker.stop();
  }
}
