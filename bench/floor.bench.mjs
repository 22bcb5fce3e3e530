// Figures against a floor (issue 15 item 5). Beside the app, a floor Worker (bench/floor/worker.ts)
// runs under its own `wrangler dev` on the same local state (the same D1 file): no framework, no
// authentication, no serialisation, each endpoint's D1 statements in one round trip (the very
// batch the app sends, learnt from the app once). Reads alternate app / floor so both see the same
// machine; ingestion runs the app's requests, then the floor's (see `compareIngest`). The tables
// give each side's client-observed figures and their ratio.
//   reads:  app p95 / floor p95 (target <= 1.5 for every activity filter and for logs query)
//   ingest: app rows/s / floor rows/s, the floor parsing the same body and running the same
//           single D1 batch (target >= 0.8 for activity and logs OTLP JSON; protobuf through
//           `compareIngest`, the hook for bench/logs-protobuf)
// FLOOR_BENCH_ROWS (default 200,000 activity rows), FLOOR_BENCH_ITERATIONS (default 40),
// FLOOR_BENCH_JSON=file writes the rows as JSON. FLOOR_BENCH_ANSWER=1 adds a third side to each
// read: the floor answering the very bytes the app answered (harvested once), so the table shows
// what carrying the app's body to the client costs apart from making it.
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { catchUpIndexes, retrying, scenarios, seed, setupTenant, untilSealed } from "./activity.bench.mjs";

const ROWS = Number(process.env.FLOOR_BENCH_ROWS ?? 200_000);
const ITERATIONS = Number(process.env.FLOOR_BENCH_ITERATIONS ?? 40);
const ANSWER = process.env.FLOOR_BENCH_ANSWER === "1";
const ROOT = resolve(import.meta.dirname, "..");

/** The floor Worker's wrangler config: the app's D1 binding (so the same file), nothing else. */
export function floorConfig(state) {
  const file = join(state.persistTo, "floor.wrangler.toml");
  writeFileSync(
    file,
    `name = "edge-audit-floor"
main = "${join(ROOT, "bench/floor/worker.ts")}"
compatibility_date = "2026-11-01"
compatibility_flags = ["nodejs_compat"]

[alias]
"readable-stream" = "${join(ROOT, "src/exports/readable-stream.cjs")}"

[[d1_databases]]
binding = "DB"
database_name = "edge-audit"
database_id = "00000000-0000-0000-0000-000000000000"
migrations_dir = "${join(ROOT, "migrations")}"
`,
  );
  return file;
}

async function timed(worker, path, init) {
  const started = performance.now();
  const res = await retrying(() => fetch(`${worker.url}${path}`, init));
  const text = await res.text();
  const ms = performance.now() - started;
  if (res.status !== 200 && res.status !== 201) throw new Error(`${path}: ${res.status} ${text.slice(0, 300)}`);
  return ms;
}

const ratio = (a, b) => (b > 0 ? (a / b).toFixed(2) : "n/a");

/**
 * A pause after each read, so what a side does after answering (the app's `waitUntil` work, such as
 * a key's `last_used_at`) runs before the other side's request instead of during it.
 */
const SETTLE_MS = 25;

async function settled(worker, path, init) {
  const ms = await timed(worker, path, init);
  await sleep(SETTLE_MS);
  return ms;
}

/** One read endpoint: app and floor alternately, `ITERATIONS` each after a warm-up (the floor's first call learns the batch). */
async function compareRead(ctx, app, floor, key, label, path, body) {
  const init = body
    ? { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) }
    : { headers: { authorization: `Bearer ${key}` } };
  for (let i = 0; i < 3; i++) {
    await timed(app, path, init);
    await timed(floor, `/floor/read${path}`, init);
    if (ANSWER) await timed(floor, `/floor/answer${path}`, init);
  }
  const appMs = [];
  const floorMs = [];
  const answerMs = [];
  for (let i = 0; i < ITERATIONS; i++) {
    appMs.push(await settled(app, path, init));
    floorMs.push(await settled(floor, `/floor/read${path}`, init));
    if (ANSWER) answerMs.push(await settled(floor, `/floor/answer${path}`, init));
  }
  const a = ctx.summarize(appMs);
  const f = ctx.summarize(floorMs);
  const row = {
    endpoint: label,
    "app p50": ctx.fmt(a.p50),
    "app p95": ctx.fmt(a.p95),
    "floor p50": ctx.fmt(f.p50),
    "floor p95": ctx.fmt(f.p95),
    "p95 ratio": ratio(a.p95, f.p95),
  };
  if (!ANSWER) return row;
  const b = ctx.summarize(answerMs);
  return { ...row, "floor+body p50": ctx.fmt(b.p50), "floor+body p95": ctx.fmt(b.p95), "app / floor+body p95": ratio(a.p95, b.p95) };
}

/**
 * Ingestion: `batches` requests of `body(i)` (rows each) to the app, then as many to the floor, one
 * at a time; rows/s of each and app / floor. `format` is how the floor parses the body (`json` or
 * `protobuf`), `headers` the request's own (key or token, content type).
 *
 * Activity rows are sealed into the hash chain by the app's sequencer, which here runs in the same
 * workerd thread as the app (docs/performance.md#activity-ingest-against-its-floor-issues-15-and-17): alternating
 * requests would make the app seal the floor's rows as well. So the two run one after the other, and
 * `sealed(kick)` resolves with the seconds until every stored row is sealed: after the app's last
 * answer (that tail is the app's work: "with the chain"), and after the floor's, kicked, not counted.
 */
export async function compareIngest(ctx, app, floor, { label, path, headers, format, rows, batches, body, sealed }) {
  await timed(app, path, { method: "POST", headers, body: body(-1) });
  await timed(floor, `/floor/ingest/${format}${path}`, { method: "POST", headers, body: body(-2) });
  const kick = () => ctx.triggerScheduled(app.url);
  await sealed?.(kick);
  const appSamples = [];
  for (let i = 0; i < batches; i++) appSamples.push(await timed(app, path, { method: "POST", headers, body: body(2 * i) }));
  const tail = sealed ? await sealed(async () => {}) : 0;
  const floorSamples = [];
  for (let i = 0; i < batches; i++) {
    floorSamples.push(await timed(floor, `/floor/ingest/${format}${path}`, { method: "POST", headers, body: body(2 * i + 1) }));
  }
  // The floor's rows are sealed before the next measurement, not counted.
  await sealed?.(kick);
  const sum = (samples) => samples.reduce((a, b) => a + b, 0);
  const appRate = (rows * batches) / (sum(appSamples) / 1000);
  const chainRate = (rows * batches) / (sum(appSamples) / 1000 + tail);
  const floorRate = (rows * batches) / (sum(floorSamples) / 1000);
  return {
    endpoint: label,
    "app rows/s": Math.round(appRate),
    "app rows/s, chain sealed": sealed ? Math.round(chainRate) : "n/a",
    "floor rows/s": Math.round(floorRate),
    "app p95": ctx.fmt(ctx.summarize(appSamples).p95),
    "floor p95": ctx.fmt(ctx.summarize(floorSamples).p95),
    "app / floor": ratio(sealed ? chainRate : appRate, floorRate),
  };
}

function otlpBody(records, seed, now) {
  return JSON.stringify({
    resourceLogs: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: `svc-${seed % 3}` } }] },
        scopeLogs: [
          {
            logRecords: Array.from({ length: records }, (_, i) => ({
              timeUnixNano: String((now() - i * 7) * 1e6),
              severityText: i % 13 ? "info" : "error",
              severityNumber: i % 13 ? 9 : 17,
              body: { stringValue: `request ${seed}-${i} handled in ${i % 97} ms` },
              attributes: [
                { key: "route", value: { stringValue: `/r${i % 8}` } },
                { key: "status", value: { intValue: String(200 + (i % 5)) } },
              ],
            })),
          },
        ],
      },
    ],
  });
}

export async function run(ctx) {
  const state = ctx.freshState("floor");
  let app = await ctx.startWorker(state);
  const tenant = await setupTenant(ctx, app);
  await app.stop();
  const endMs = Date.now() - 60_000;
  const db = ctx.openD1(state);
  seed(db, tenant, endMs, ROWS);
  console.log(`seeded ${db.prepare("SELECT count(*) AS n FROM activity_log").get().n} activity rows`);

  app = await ctx.startWorker(state);
  let floor;
  try {
    await catchUpIndexes(ctx, app, db);
    floor = await ctx.startWorker(state, {}, { config: floorConfig(state) });
    const key = tenant.key;
    const logsProject = tenant.projects[3];
    const token = (await ctx.request(app, `/api/projects/${logsProject}/`, { key })).body.api_token;
    // Logs: 40 batches of 500 records over the last few minutes, then the query endpoints.
    const start = Date.now();
    for (let i = 0; i < 40; i++) {
      const res = await ctx.request(app, "/i/v1/logs", {
        body: otlpBody(500, i, () => start - i * 3000),
        headers: { authorization: `Bearer ${token}` },
      });
      if (res.status !== 200) throw new Error(`logs seed: ${res.status} ${JSON.stringify(res.body)}`);
    }

    const reads = [];
    for (const s of scenarios(tenant, endMs, db)) reads.push(await compareRead(ctx, app, floor, key, s.label, s.path));
    const logs = `/api/projects/${logsProject}/logs`;
    const range = { dateRange: { date_from: "-1h" } };
    for (const [label, path, body] of [
      ["logs query: last hour, latest 100", `${logs}/query/`, { query: { ...range, limit: 100 } }],
      ["logs query: errors only", `${logs}/query/`, { query: { ...range, limit: 100, severityLevels: ["error"] } }],
      ["logs query: one service", `${logs}/query/`, { query: { ...range, limit: 100, serviceNames: ["svc-1"] } }],
      ["logs count: 10 minutes, errors", `${logs}/count/`, { query: { dateRange: { date_from: "-10m" }, severityLevels: ["error"] } }],
      ["logs sparkline: last hour", `${logs}/sparkline/`, { query: range }],
    ]) {
      reads.push(await compareRead(ctx, app, floor, key, label, path, body));
    }
    ctx.table(`Reads against the floor at ${ROWS} activity rows (client-observed, ${ITERATIONS} runs each, alternating)`, reads);

    let sequence = 0;
    const activityIngest = (entries) =>
      compareIngest(ctx, app, floor, {
        label: `activity ingest, ${entries}-entry batches`,
        path: `/api/projects/${tenant.projects[1]}/activity_log/`,
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        format: "json",
        rows: entries,
        batches: ITERATIONS / 2,
        sealed: (kick) => untilSealed(db, kick),
        body: () =>
          JSON.stringify({
            entries: Array.from({ length: entries }, (_, i) => ({
              scope: "FeatureFlag",
              activity: "updated",
              item_id: `ff-${sequence++}`,
              detail: {
                name: `flag-${i}`,
                changes: [{ type: "FeatureFlag", action: "changed", field: "active", before: false, after: true }],
              },
            })),
          }),
      });
    const ingest = [
      await activityIngest(500),
      // The batch size of `npm run bench activity`'s ingest target.
      await activityIngest(1000),
      await compareIngest(ctx, app, floor, {
        label: "logs ingest, OTLP JSON, 500-record batches",
        path: "/i/v1/logs",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        format: "json",
        rows: 500,
        batches: ITERATIONS / 2,
        body: (i) => otlpBody(500, 1000 + i, () => Date.now()),
      }),
    ];
    ctx.table("Ingestion against the floor (one client; the app's requests, then the floor's)", ingest);
    if (process.env.FLOOR_BENCH_JSON) writeFileSync(process.env.FLOOR_BENCH_JSON, JSON.stringify({ rows: ROWS, reads, ingest }, null, 2));
  } finally {
    await floor?.stop();
    await app.stop();
    db.close();
  }
}
