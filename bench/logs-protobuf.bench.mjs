// Logs ingestion with OTLP protobuf bodies, measured on its own (issue 15 item 6): target 30,000 records/s
// under `wrangler dev`, or at least 0.8 of a floor Worker (bench/floor/logs-floor.ts: no framework, no
// auth, the same generated decoder, rows, statements and single D1 batch on the same local D1 file).
//
// 1. In node (one core, CPU time, so other load on the machine matters less): what one request's
//    body costs the Worker, stage by stage.
// 2. Under `wrangler dev`: the app's POST /i/v1/logs and the floor Worker, in alternating rounds on the
//    same state, each from CONCURRENCY clients; records/s, request latency and Server-Timing.
// 3. With LOGS_PROTOBUF_PROFILE=1, a V8 CPU profile of the Worker's isolate (workerd's inspector) during
//    the first round of each: where the Worker's own time goes (D1 runs in another isolate).
// Knobs: LOGS_PROTOBUF_BATCH (500 records a request), LOGS_PROTOBUF_REQUESTS (160 a round),
// LOGS_PROTOBUF_CONCURRENCY (4), LOGS_PROTOBUF_ROUNDS (2 of each).
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
// esbuild comes with wrangler: it bundles the TypeScript sources the Worker runs for node to time.
import { build } from "esbuild";
import { drive, freePort, inspector, serverTiming, startWorker } from "./lib.mjs";

const ROOT = resolve(import.meta.dirname, "..");
const BATCH = Number(process.env.LOGS_PROTOBUF_BATCH ?? 500);
const REQUESTS = Number(process.env.LOGS_PROTOBUF_REQUESTS ?? 160);
const CONCURRENCY = Number(process.env.LOGS_PROTOBUF_CONCURRENCY ?? 4);
const ROUNDS = Number(process.env.LOGS_PROTOBUF_ROUNDS ?? 2);
const PROFILE = process.env.LOGS_PROTOBUF_PROFILE === "1";
const SERVICES = ["api", "web", "worker", "billing", "auth", "search", "mailer", "gateway"];
const DAY_MS = 86_400_000;

/** The Worker's own modules, bundled for node. */
async function loadWorkerModules() {
  const out = join(ROOT, "bench", ".data", "logs-protobuf-modules.mjs");
  await build({
    stdin: {
      contents: `
        export { create, toBinary } from "@bufbuild/protobuf";
        export { ExportLogsServiceRequestSchema } from "./src/logs/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb";
        export { decodeOtlpProtobuf, parseOtlpProtobufLogs } from "./src/logs/otlp-protobuf";
        export { insertLogsStatements } from "./src/logs/write.queries";
        export { createDb } from "./src/db/client";`,
      resolveDir: ROOT,
      loader: "ts",
    },
    bundle: true,
    format: "esm",
    platform: "node",
    outfile: out,
    logLevel: "error",
  });
  return import(out);
}

const hexBytes = (hex) => Uint8Array.from(hex.match(/../g).map((h) => Number.parseInt(h, 16)));
const TRACE_ID = hexBytes("5b8efff798038103d269b633813fc60c");
const SPAN_ID = hexBytes("eee19b7ec3c1b174");

/** One request's ExportLogsServiceRequest (the records of `logs.bench.mjs`' OTLP/JSON batches), encoded. */
function protobufBatch(m, size, service, i0) {
  const now = BigInt(Date.now()) * 1_000_000n;
  const string = (value) => ({ value: { case: "stringValue", value } });
  const message = m.create(m.ExportLogsServiceRequestSchema, {
    resourceLogs: [
      {
        resource: {
          attributes: [
            { key: "service.name", value: string(service) },
            { key: "host.name", value: string("bench-1") },
          ],
        },
        scopeLogs: [
          {
            scope: { name: "bench", version: "1.0.0" },
            logRecords: Array.from({ length: size }, (_, j) => ({
              timeUnixNano: now + BigInt(j),
              severityNumber: j % 10 === 0 ? 17 : 9,
              severityText: j % 10 === 0 ? "ERROR" : "INFO",
              body: string(`GET /api/v1/items/${i0 + j} 200 in ${j % 300}ms`),
              attributes: [
                { key: "http.method", value: string("GET") },
                { key: "http.status_code", value: { value: { case: "intValue", value: 200n } } },
                { key: "user.id", value: string(`user-${(i0 + j) % 1000}`) },
                { key: "duration.ms", value: { value: { case: "doubleValue", value: j % 300 } } },
              ],
              traceId: TRACE_ID,
              spanId: SPAN_ID,
            })),
          },
        ],
      },
    ],
  });
  return m.toBinary(m.ExportLogsServiceRequestSchema, message);
}

/** CPU milliseconds per call of `fn` (median of 15 runs of 20 calls, after a warm-up). */
function cpuPerCall(fn) {
  for (let i = 0; i < 60; i++) fn();
  const samples = [];
  for (let run = 0; run < 15; run++) {
    const before = process.cpuUsage();
    for (let i = 0; i < 20; i++) fn();
    const used = process.cpuUsage(before);
    samples.push((used.user + used.system) / 1000 / 20);
  }
  samples.sort((a, b) => a - b);
  return samples[7];
}

function nodeStages(ctx, m, body) {
  const now = Date.now();
  const options = { now, oldestMs: now - 30 * DAY_MS };
  // Statements are built and rendered to SQL (what db.batch sends) without a database behind them.
  const db = m.createDb({});
  const message = m.decodeOtlpProtobuf(body);
  const rows = m.parseOtlpProtobufLogs(message, options).rows;
  const decode = cpuPerCall(() => m.decodeOtlpProtobuf(body));
  const read = cpuPerCall(() => m.parseOtlpProtobufLogs(message, options));
  const statements = cpuPerCall(() => {
    for (const statement of m.insertLogsStatements(db, 1, rows)) statement.toSQL();
  });
  const whole = cpuPerCall(() => {
    const parsed = m.parseOtlpProtobufLogs(m.decodeOtlpProtobuf(body), options);
    for (const statement of m.insertLogsStatements(db, 1, parsed.rows)) statement.toSQL();
  });
  ctx.table(
    `One ${BATCH}-record protobuf body (${body.byteLength} bytes) in node ${process.version}: CPU ms per request (median of 15 x 20)`,
    [
      { stage: "fromBinary (generated messages)", "CPU ms": decode.toFixed(2) },
      { stage: "message -> rows (parseOtlpProtobufLogs)", "CPU ms": read.toFixed(2) },
      { stage: "rows -> statements + SQL (insertLogsStatements, toSQL)", "CPU ms": statements.toFixed(2) },
      { stage: "all three", "CPU ms": whole.toFixed(2), "records/s on one core": Math.round(BATCH / (whole / 1000)) },
    ],
  );
}

/** `[pid, ppid, name]` of every process (Linux /proc). */
function processes() {
  const out = [];
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.push([Number(pid), Number(fields[1]), stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))]);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The workerd processes `wrangler dev` (pid) started. */
function workerdPids(root) {
  const all = processes();
  const family = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of all) {
      if (family.has(ppid) && !family.has(pid)) {
        family.add(pid);
        grew = true;
      }
    }
  }
  return all.filter(([pid, , name]) => family.has(pid) && name === "workerd").map(([pid]) => pid);
}

/** CPU time (clock ticks, user + system) of each thread of the processes, by `pid/tid`. */
function threadTicks(pids) {
  const ticks = new Map();
  for (const pid of pids) {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks.set(`${pid}/${tid}`, Number(fields[11]) + Number(fields[12]));
    }
  }
  return ticks;
}

/** CPU used by workerd between two `threadTicks` readings: all threads, and its busiest thread (the one running the isolates and SQLite). */
function workerdCpu(before, after) {
  let total = 0;
  let busiest = 0;
  for (const [thread, ticks] of after) {
    const used = ticks - (before.get(thread) ?? 0);
    total += used;
    busiest = Math.max(busiest, used);
  }
  const TICK_MS = 10; // CLK_TCK = 100 on Linux
  return { totalMs: total * TICK_MS, busiestMs: busiest * TICK_MS };
}

async function post(worker, path, body) {
  const started = performance.now();
  const res = await fetch(`${worker.url}${path}`, { method: "POST", headers: { "content-type": "application/x-protobuf" }, body });
  const answer = new Uint8Array(await res.arrayBuffer());
  // An empty ExportLogsServiceResponse: no partial success.
  if (res.status !== 200 || answer.byteLength !== 0) throw new Error(`${path}: ${res.status} ${new TextDecoder().decode(answer)}`);
  return { ms: performance.now() - started, app: serverTiming(res, "app"), db: serverTiming(res, "db") };
}

async function phase(ctx, worker, path, bodies) {
  for (let i = 0; i < 4; i++) await post(worker, path, bodies[i]);
  const latencies = [];
  const app = [];
  const db = [];
  const pids = workerdPids(worker.child.pid);
  const ticksBefore = threadTicks(pids);
  const seconds = await drive(REQUESTS, CONCURRENCY, async (i) => {
    const r = await post(worker, path, bodies[i % bodies.length]);
    latencies.push(r.ms);
    app.push(r.app);
    db.push(r.db);
  });
  const cpu = workerdCpu(ticksBefore, threadTicks(pids));
  const [l, a, d] = [latencies, app, db].map((s) => ctx.summarize(s));
  return {
    recordsPerSecond: Math.round((REQUESTS * BATCH) / seconds),
    request: l,
    app: a,
    db: d,
    // workerd runs the Worker, the proxy in front of it and local D1 (SQLite included) on one thread.
    workerdMsPerRequest: cpu.totalMs / REQUESTS,
    mainThreadMsPerRequest: cpu.busiestMs / REQUESTS,
    mainThreadBusy: cpu.busiestMs / (seconds * 1000),
  };
}

// Functions whose inclusive time the profile summary reports, in the order of a request's path.
const PROFILED = [
  ["fetch (Hono's app.fetch / the floor's handler)", /^fetch$/],
  ["ingestLogs (the app's handler)", /^ingestLogs$/],
  ["  readBody", /^readBody$/],
  ["  fromBinary (decodeOtlpProtobuf)", /^decodeOtlpProtobuf$/],
  ["  message -> rows (parseOtlpProtobufLogs)", /^parseOtlpProtobufLogs$/],
  ["  rows -> statements (insertLogsStatements)", /^insertLogsStatements$/],
  ["  drizzle batch (SQL, params, D1 call)", /^batch$/],
  ["garbage collector", /^\(garbage collector\)$/],
];

/** Inclusive share of the busy samples (not idle) for each PROFILED entry. */
function summarizeProfile(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  let busy = 0;
  const hits = new Array(PROFILED.length).fill(0);
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    const dt = profile.timeDeltas[i] ?? 0;
    const name = node.callFrame.functionName;
    if (name === "(idle)" || name === "(program)") continue;
    busy += dt;
    self.set(name || "(anonymous)", (self.get(name || "(anonymous)") ?? 0) + dt);
    const names = new Set();
    for (let id = node.id; id !== undefined; id = parent.get(id)) names.add(byId.get(id).callFrame.functionName);
    PROFILED.forEach(([, pattern], k) => {
      if ([...names].some((n) => pattern.test(n))) hits[k] += dt;
    });
  }
  const total = profile.endTime - profile.startTime;
  return {
    busyShare: busy / total,
    inclusive: PROFILED.map(([label], k) => ({ "in the Worker's busy time": label, share: `${((hits[k] / busy) * 100).toFixed(1)}%` })),
    topSelf: [...self]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([fn, dt]) => ({ function: fn, "self share": `${((dt / busy) * 100).toFixed(1)}%` })),
  };
}

export async function run(ctx) {
  const m = await loadWorkerModules();
  const bodies = Array.from({ length: 40 }, (_, i) => protobufBatch(m, BATCH, SERVICES[i % SERVICES.length], i * BATCH));
  nodeStages(ctx, m, bodies[0]);

  const state = ctx.freshState("logs-protobuf");
  const signupWorker = await startWorker(state);
  const tenant = await ctx.signup(signupWorker);
  await signupWorker.stop();

  const kinds = {
    app: { start: (options) => startWorker(state, {}, options), path: `/i/v1/logs?token=${tenant.apiToken}` },
    floor: {
      start: (options) => startWorker(state, {}, { config: join(ROOT, "bench", "floor", "wrangler.toml"), readyPath: "/", ...options }),
      path: `/?project=${tenant.projectId}`,
    },
  };
  const profiles = {};
  const results = { app: [], floor: [] };
  // Alternate which goes first, so drift in the machine's load falls on both.
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of round % 2 ? ["floor", "app"] : ["app", "floor"]) {
      const profiling = PROFILE && round === 0;
      const inspectorPort = profiling ? await freePort() : undefined;
      const worker = await kinds[kind].start({ inspectorPort });
      try {
        const session = profiling ? await inspector(inspectorPort) : null;
        if (session) {
          await session.send("Profiler.enable");
          await session.send("Profiler.setSamplingInterval", { interval: 250 });
          await session.send("Profiler.start");
        }
        const r = await phase(ctx, worker, kinds[kind].path, bodies);
        if (session) {
          profiles[kind] = summarizeProfile((await session.send("Profiler.stop")).profile);
          session.close();
        }
        results[kind].push(r);
        console.log(`round ${round + 1} ${kind}: ${r.recordsPerSecond} records/s`);
      } finally {
        await worker.stop();
      }
    }
  }
  // Where the workerd main thread's time goes: the floor stopped after each stage (nothing stored
  // before the last), from the same clients.
  const stages = [
    ["read the body, answer (HTTP, wrangler's proxy)", "read"],
    ["+ fromBinary and message -> rows", "rows"],
    ["+ statements rendered to SQL", "statements"],
    ["+ the D1 batch (the whole floor)", "batch"],
  ];
  const split = [];
  const floor = await kinds.floor.start({});
  try {
    for (const [label, stage] of stages) {
      const r = await phase(ctx, floor, `${kinds.floor.path}&stage=${stage}`, bodies);
      split.push({
        "floor stopped after": label,
        "main thread / request": ctx.fmt(r.mainThreadMsPerRequest),
        "workerd / request": ctx.fmt(r.workerdMsPerRequest),
        "records/s": r.recordsPerSecond,
      });
    }
  } finally {
    await floor.stop();
  }
  ctx.table(`Floor stage by stage: workerd CPU per ${BATCH}-record request`, split);

  const db = ctx.openD1(state);
  const stored = db.prepare("SELECT count(*) AS n FROM log_records").get().n;
  db.close();
  const expected = (ROUNDS * 2 + 1) * (REQUESTS + 4) * BATCH;
  console.log(`stored ${stored} records (expected ${expected}: app and floor write the same D1 file)`);

  const row = (kind, r, i) => ({
    worker: kind,
    round: i + 1,
    "records/s": r.recordsPerSecond,
    "request p50": ctx.fmt(r.request.p50),
    "request p95": ctx.fmt(r.request.p95),
    "in Worker p50": ctx.fmt(r.app.p50),
    "D1 batch p50": ctx.fmt(r.db.p50),
    "D1 batch p95": ctx.fmt(r.db.p95),
    "workerd CPU / request": ctx.fmt(r.workerdMsPerRequest),
    "its main thread / request": ctx.fmt(r.mainThreadMsPerRequest),
    "main thread busy": `${Math.round(r.mainThreadBusy * 100)}%`,
  });
  ctx.table(
    `Protobuf ingestion, ${BATCH}-record bodies, ${CONCURRENCY} clients, ${REQUESTS} requests a round: the app (POST /i/v1/logs) and the floor Worker`,
    [...results.app.map((r, i) => row("app", r, i)), ...results.floor.map((r, i) => row("floor", r, i))],
  );
  for (const [kind, summary] of Object.entries(profiles)) {
    ctx.table(
      `CPU profile of the ${kind} Worker's isolate, round 1 (busy ${(summary.busyShare * 100).toFixed(0)}% of the phase; shares of busy time)`,
      summary.inclusive,
    );
    ctx.table(`Top self time, ${kind}`, summary.topSelf);
  }
  const mean = (list, key = "recordsPerSecond") => list.reduce((s, r) => s + r[key], 0) / list.length;
  const ratio = mean(results.app) / mean(results.floor);
  // Records per second of the workerd main thread's CPU: what one dedicated core would give, whatever else the machine runs.
  const perCore = (list) => (BATCH * 1000) / mean(list, "mainThreadMsPerRequest");
  ctx.table("App / floor", [
    {
      "app records/s (mean)": Math.round(mean(results.app)),
      "floor records/s (mean)": Math.round(mean(results.floor)),
      "app / floor": ratio.toFixed(2),
      "app / floor per main-thread CPU": (perCore(results.app) / perCore(results.floor)).toFixed(2),
      "app records per main-thread CPU-second": Math.round(perCore(results.app)),
      "floor records per main-thread CPU-second": Math.round(perCore(results.floor)),
      "target >= 0.8": ratio >= 0.8 ? "met" : "not met",
      "30,000 records/s": mean(results.app) >= 30_000 ? "met" : "not met",
    },
  ]);
}
