// Logs: OTLP ingestion throughput, and query / sparkline / 10-minute count latency at 2,000,000 stored records.
// Targets (issue #5): >= 30,000 records/s ingested; count p95 <= 10 ms; query p95 <= 25 ms.
import { drive, pickLogLevel, rng, serverTiming, startWorker } from "./lib.mjs";

const RECORDS = Number(process.env.LOGS_BENCH_RECORDS ?? 2_000_000);
const SPAN_MS = 48 * 3_600_000;
const SERVICES = ["api", "web", "worker", "billing", "auth", "search", "mailer", "gateway"];
const STATUSES = ["200", "200", "200", "201", "204", "301", "404", "500"];
const METHODS = ["GET", "GET", "GET", "POST", "PUT", "DELETE"];

function addCount(map, key, n = 1) {
  map.set(key, (map.get(key) ?? 0) + n);
}

/** Seeds records, per-minute counters and the attribute index straight into the D1 SQLite file, as ingestion would. */
function seed(db, projectId, endMs) {
  const random = rng(42);
  const insert = db.prepare(
    `INSERT INTO log_records (uuid, project_id, timestamp, observed_timestamp, severity_text, severity_number, service_name, body,
      trace_id, span_id, trace_flags, attributes, resource_attributes, instrumentation_scope, event_name)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, 'bench@1.0.0', '')`,
  );
  const minutes = new Map();
  const keys = new Map();
  const values = new Map();
  const startMs = endMs - SPAN_MS;
  db.exec("BEGIN");
  for (let i = 0; i < RECORDS; i++) {
    const ts = Math.floor((startMs + (i / RECORDS) * SPAN_MS) * 1000 + random() * 1000);
    const service = SERVICES[Math.floor(random() * SERVICES.length)];
    const [level, number] = pickLogLevel(random());
    const status = STATUSES[Math.floor(random() * STATUSES.length)];
    const method = METHODS[Math.floor(random() * METHODS.length)];
    const user = `user-${Math.floor(random() * 10_000)}`;
    const attributes = {
      "http.method": method,
      "http.status_code": status,
      "user.id": user,
      "duration.ms": String(Math.floor(random() * 2000)),
    };
    const resource = {
      "service.name": service,
      "host.name": `${service}-${Math.floor(random() * 4)}`,
      "deployment.environment": "production",
    };
    const body = `${method} /api/v1/items/${i % 5000} ${status} in ${attributes["duration.ms"]}ms for ${user}`;
    insert.run(
      crypto.randomUUID(),
      projectId,
      ts,
      ts,
      level,
      number,
      service,
      body,
      level === "error" ? "0af7651916cd43dd8448eb211c80319c" : null,
      level === "error" ? "b7ad6b7169203331" : null,
      JSON.stringify(attributes),
      JSON.stringify(resource),
    );
    addCount(minutes, `${Math.floor(ts / 60_000_000)}\u0000${service}\u0000${level}`);
    const hour = Math.floor(ts / 3_600_000_000);
    for (const [type, map] of [
      ["log", attributes],
      ["resource", resource],
    ]) {
      for (const [key, value] of Object.entries(map)) {
        addCount(keys, `${type}\u0000${hour}\u0000${key}\u0000${service}`);
        addCount(values, `${type}\u0000${key}\u0000${hour}\u0000${value}\u0000${service}`);
      }
    }
  }
  const minuteInsert = db.prepare("INSERT INTO log_minute_counts VALUES (?, ?, ?, ?, ?)");
  for (const [key, n] of minutes) {
    const [minute, service, level] = key.split("\u0000");
    minuteInsert.run(projectId, Number(minute), service, level, n);
  }
  const keyInsert = db.prepare("INSERT INTO log_attribute_keys VALUES (?, ?, ?, ?, ?, ?)");
  for (const [key, n] of keys) {
    const [type, hour, name, service] = key.split("\u0000");
    keyInsert.run(projectId, type, Number(hour), name, service, n);
  }
  const valueInsert = db.prepare("INSERT INTO log_attribute_values VALUES (?, ?, ?, ?, ?, ?, ?)");
  for (const [key, n] of values) {
    const [type, name, hour, value, service] = key.split("\u0000");
    valueInsert.run(projectId, type, name, Number(hour), value, service, n);
  }
  db.exec("COMMIT");
}

function otlpBatch(size, service, i0) {
  const now = Date.now();
  return {
    resourceLogs: [
      {
        resource: {
          attributes: [
            { key: "service.name", value: { stringValue: service } },
            { key: "host.name", value: { stringValue: "bench-1" } },
          ],
        },
        scopeLogs: [
          {
            scope: { name: "bench", version: "1.0.0" },
            logRecords: Array.from({ length: size }, (_, j) => ({
              timeUnixNano: `${(BigInt(now) * 1_000_000n + BigInt(j)).toString()}`,
              severityNumber: j % 10 === 0 ? 17 : 9,
              severityText: j % 10 === 0 ? "ERROR" : "INFO",
              body: { stringValue: `GET /api/v1/items/${i0 + j} 200 in ${j % 300}ms` },
              attributes: [
                { key: "http.method", value: { stringValue: "GET" } },
                { key: "http.status_code", value: { intValue: "200" } },
                { key: "user.id", value: { stringValue: `user-${(i0 + j) % 1000}` } },
                { key: "duration.ms", value: { doubleValue: j % 300 } },
              ],
              traceId: "5b8efff798038103d269b633813fc60c",
              spanId: "eee19b7ec3c1b174",
            })),
          },
        ],
      },
    ],
  };
}

/** POST with the `Server-Timing` entries: `app` (whole request in the Worker) and `db` (the count query / the ingestion batch). */
async function timedRequest(worker, path, body, token) {
  const started = performance.now();
  const res = await fetch(`${worker.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body,
  });
  const text = await res.text();
  const ms = performance.now() - started;
  return { status: res.status, body: JSON.parse(text), ms, serverMs: serverTiming(res, "app"), dbMs: serverTiming(res, "db") };
}

async function measureIngest(ctx, worker, token) {
  const BATCH = 500;
  const REQUESTS = 120;
  const CONCURRENCY = 4;
  const bodies = Array.from({ length: REQUESTS }, (_, i) => JSON.stringify(otlpBatch(BATCH, SERVICES[i % SERVICES.length], i * BATCH)));
  for (let i = 0; i < 3; i++) await timedRequest(worker, "/i/v1/logs", bodies[i], token);
  const latencies = [];
  const batches = [];
  const seconds = await drive(REQUESTS, CONCURRENCY, async (i) => {
    const res = await timedRequest(worker, "/i/v1/logs", bodies[i], token);
    if (res.status !== 200 || res.body.partialSuccess) throw new Error(`ingest: ${res.status} ${JSON.stringify(res.body)}`);
    latencies.push(res.ms);
    batches.push(res.dbMs);
  });
  const stats = ctx.summarize(latencies);
  const db = ctx.summarize(batches);
  return { recordsPerSecond: Math.round((REQUESTS * BATCH) / seconds), p50: stats.p50, p95: stats.p95, dbP50: db.p50, dbP95: db.p95 };
}

export async function run(ctx) {
  const state = ctx.freshState("logs");
  let worker = await startWorker(state);
  const tenant = await ctx.signup(worker);
  await worker.stop();

  const endMs = Math.floor(Date.now() / 60_000) * 60_000;
  const db = ctx.openD1(state);
  const started = performance.now();
  seed(db, tenant.projectId, endMs);
  const seedSeconds = (performance.now() - started) / 1000;
  const stored = db.prepare("SELECT count(*) AS n FROM log_records").get().n;
  console.log(`seeded ${stored} records over the last 48 h in ${seedSeconds.toFixed(1)} s`);
  // Bytes per record on disk, indexes, minute counters and attribute index included (docs/scaling.md).
  ctx.storageTable(db, `Storage: log tables at ${stored} records (dbstat)`, ["log_"], stored);
  if (process.env.LOGS_BENCH_SEED_ONLY) {
    db.close();
    return;
  }

  // The plans the API relies on (no ANALYZE statistics, as on a fresh D1 database).
  const plans = [
    [
      "count: whole minutes from the counters",
      "SELECT sum(count) FROM log_minute_counts WHERE project_id = 1 AND minute >= 1 AND minute < 11 AND severity_text IN ('error') AND service_name IN ('api')",
    ],
    [
      "count: partial minute from the records",
      "SELECT count(*) FROM log_records WHERE project_id = 1 AND timestamp >= 1 AND timestamp < 2 AND severity_text IN ('error')",
    ],
    [
      "query: latest page",
      "SELECT uuid FROM log_records WHERE project_id = 1 AND timestamp >= 1 AND timestamp < 2 ORDER BY timestamp DESC, uuid DESC LIMIT 101",
    ],
    [
      "query: by service",
      "SELECT uuid FROM log_records WHERE project_id = 1 AND timestamp >= 1 AND timestamp < 2 AND service_name IN ('api') ORDER BY timestamp DESC, uuid DESC LIMIT 101",
    ],
    [
      "query: by severity",
      "SELECT uuid FROM log_records WHERE project_id = 1 AND timestamp >= 1 AND timestamp < 2 AND severity_text IN ('error') ORDER BY timestamp DESC, uuid DESC LIMIT 101",
    ],
  ];
  ctx.table(
    "Query plans (EXPLAIN QUERY PLAN)",
    plans.map(([label, sql]) => ({
      statement: label,
      plan: db
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all()
        .map((r) => r.detail)
        .join(" | "),
    })),
  );

  // Raw SQLite baselines for the 10-minute count an alert runs (node:sqlite on the same file).
  const tenMinEnd = (endMs - 30 * 60_000) / 60_000;
  const raw = [
    [
      "counters, error + 1 service",
      "SELECT coalesce(sum(count), 0) FROM log_minute_counts WHERE project_id = ? AND minute >= ? AND minute < ? AND severity_text IN ('error') AND service_name IN ('api')",
      [tenant.projectId, tenMinEnd - 10, tenMinEnd],
    ],
    [
      "records index scan, error",
      "SELECT count(*) FROM log_records WHERE project_id = ? AND timestamp >= ? AND timestamp < ? AND severity_text IN ('error')",
      [tenant.projectId, (tenMinEnd - 10) * 60_000_000, tenMinEnd * 60_000_000],
    ],
  ].map(([label, sql, params]) => {
    const s = ctx.measureSql(db, sql, params, { iterations: 200, warmup: 10 });
    return { "10-minute count (raw SQLite)": label, p50: ctx.fmt(s.p50), p95: ctx.fmt(s.p95) };
  });
  // The records INSERT an ingestion request runs (service, resource and scope bound once per OTLP ScopeLogs), straight on
  // the file: the SQLite floor under the D1 batch.
  const insertBatch = db.prepare(
    `INSERT INTO log_records (id, uuid, project_id, timestamp, observed_timestamp, severity_text, severity_number, service_name, body, trace_id,
      span_id, trace_flags, attributes, resource_attributes, instrumentation_scope, event_name)
     SELECT NULL, value ->> 0, ?, value ->> 1, value ->> 2, value ->> 3, value ->> 4, ?, value ->> 5, value ->> 6, value ->> 7,
       value ->> 8, value ->> 9, ?, ?, value ->> 10 FROM json_each(?)`,
  );
  const insertTimes = [];
  for (let i = 0; i < 30; i++) {
    const now = Date.now() * 1000;
    const rows = Array.from({ length: 500 }, (_, j) => [
      crypto.randomUUID(),
      now + j,
      now,
      "info",
      9,
      `GET /api/v1/items/${j} 200 in ${j % 300}ms`,
      null,
      null,
      0,
      JSON.stringify({ "http.method": "GET", "user.id": `user-${j}`, "duration.ms": String(j % 300) }),
      "",
    ]);
    const json = JSON.stringify(rows);
    db.exec("BEGIN");
    const t0 = performance.now();
    insertBatch.run(tenant.projectId, "api", JSON.stringify({ "service.name": "api" }), "", json);
    insertTimes.push(performance.now() - t0);
    db.exec("ROLLBACK");
  }
  const insertStats = ctx.summarize(insertTimes);
  db.close();

  worker = await startWorker(state);
  try {
    const path = (p) => `/api/projects/${tenant.projectId}/logs/${p}/`;
    const windowTo = new Date(endMs - 30 * 60_000);
    const windowFrom = new Date(windowTo.getTime() - 10 * 60_000);
    const tenMinutes = { date_from: windowFrom.toISOString(), date_to: windowTo.toISOString() };
    const scenarios = [
      [
        "count/ 10 min: error, service api (alert filters)",
        "count",
        { dateRange: tenMinutes, severityLevels: ["error"], serviceNames: ["api"] },
      ],
      ["count/ 10 min: all logs", "count", { dateRange: tenMinutes }],
      [
        "count/ 10 min: attribute filter (reads records)",
        "count",
        { dateRange: tenMinutes, filterGroup: [{ key: "http.status_code", type: "log_attribute", operator: "exact", value: "500" }] },
      ],
      ["query/ last hour, latest 100", "query", {}],
      ["query/ last hour, errors", "query", { severityLevels: ["error"] }],
      ["query/ last hour, one service", "query", { serviceNames: ["billing"] }],
      [
        "query/ last hour, attribute exact",
        "query",
        { filterGroup: [{ key: "user.id", type: "log_attribute", operator: "exact", value: "user-42" }] },
      ],
      ["query/ last hour, search term", "query", { searchTerm: "items/42 " }],
      ["sparkline/ last hour by severity", "sparkline", {}],
      ["sparkline/ last 24 h by service", "sparkline", { dateRange: { date_from: "-24h" }, sparklineBreakdownBy: "service" }],
    ];
    const rows = [];
    for (const [label, endpoint, query] of scenarios) {
      const server = [];
      const db = [];
      const client = await ctx.measure(
        async () => {
          const res = await timedRequest(worker, path(endpoint), JSON.stringify({ query }), tenant.key);
          if (res.status !== 200) throw new Error(`${label}: ${res.status} ${JSON.stringify(res.body)}`);
          server.push(res.serverMs);
          if (!Number.isNaN(res.dbMs)) db.push(res.dbMs);
        },
        { iterations: 100, warmup: 3 },
      );
      const serverStats = ctx.summarize(server.slice(-100));
      const dbStats = ctx.summarize(db.slice(-100));
      rows.push({
        scenario: label,
        "client p50": ctx.fmt(client.p50),
        "client p95": ctx.fmt(client.p95),
        "in Worker p50": ctx.fmt(serverStats.p50),
        "in Worker p95": ctx.fmt(serverStats.p95),
        "count query p50": ctx.fmt(dbStats.p50),
        "count query p95": ctx.fmt(dbStats.p95),
      });
      console.log(`${label}: client p50 ${ctx.fmt(client.p50)}, p95 ${ctx.fmt(client.p95)}`);
    }
    ctx.table(
      `Logs API at ${stored} stored records (100 sequential requests each; count query = countLogs alone, D1 round trip included)`,
      rows,
    );
    ctx.table("10-minute count, raw SQLite on the same file (200 runs each)", raw);
    ctx.table("500-record INSERT ... json_each, raw SQLite on the same file (30 runs, rolled back)", [
      { p50: ctx.fmt(insertStats.p50), p95: ctx.fmt(insertStats.p95), "records/s at p50": Math.round(500 / (insertStats.p50 / 1000)) },
    ]);

    const ingest = await measureIngest(ctx, worker, tenant.apiToken);
    ctx.table("Ingestion: POST /i/v1/logs, 500-record OTLP/JSON batches, 4 concurrent clients, 120 requests", [
      {
        "records/s": ingest.recordsPerSecond,
        "request p50": ctx.fmt(ingest.p50),
        "request p95": ctx.fmt(ingest.p95),
        "D1 batch p50": ctx.fmt(ingest.dbP50),
        "D1 batch p95": ctx.fmt(ingest.dbP95),
      },
    ]);
  } finally {
    await worker.stop();
  }
}
