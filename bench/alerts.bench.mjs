import { writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { freePort, inspector, pickLogLevel, rng, startWorker } from "./lib.mjs";

// Logs alerts: one cron tick evaluating 10,000 enabled alerts (500 projects x 20, the per-project
// maximum) over 2,000,000 stored log records. Target (issue #7): every due alert evaluated within 30 s.
const PROJECTS = Number(process.env.ALERTS_BENCH_PROJECTS ?? 500);
const ALERTS_PER_PROJECT = 20;
const RECORDS = Number(process.env.ALERTS_BENCH_RECORDS ?? 2_000_000);
const SPAN_MS = 2 * 3_600_000;
/** ALERTS_BENCH_PROFILE=1: a V8 CPU profile of the Worker's isolate (workerd's inspector) over the measured tick. */
const PROFILE = process.env.ALERTS_BENCH_PROFILE === "1";
/**
 * Warm-up ticks (minutes relative to the measured tick), one per fifth of the alerts. The seeded rows
 * have no check history in D1 (`recent_breaches` null, as rows from before the consumer decided
 * checks), so their first checks run in, and create, the alerts' Durable Objects, which write the
 * history the measured tick's consumer decides from. Locally every live object holds several file descriptors (its SQLite files)
 * until it is evicted some seconds after its last call, and this machine allows 20,000 per process:
 * the objects are created a fifth at a time, with a pause for eviction in between. Every alert
 * checks every 5 minutes, so all of them are due again at the measured tick.
 */
const WARM_UP_TICKS_MIN = [-9, -8, -7, -6, -5];
const EVICTION_PAUSE_MS = 25_000;
const MINUTE_MS = 60_000;
const SERVICES = ["api", "web", "worker", "billing"];
const STATUSES = ["200", "200", "200", "201", "204", "404", "500", "503"];

/**
 * The alert mix (every one checked every 5 minutes): counter-answered filters (severity, service; windows up to an hour) and a quarter
 * with an attribute filter, which the logs layer answers from the records (5 and 15 minute windows:
 * such a count costs about 0.4 ms per 5 minutes of this data, so hour-long ones would dominate).
 */
function alertConfig(k) {
  switch (k % 4) {
    case 0:
      return { filters: { severityLevels: ["error"] }, threshold: 8 + (k % 5), window: 5 };
    case 1:
      return { filters: { serviceNames: ["api"] }, threshold: k % 8 === 1 ? 500 : 40, window: k % 8 === 1 ? 60 : 5 };
    case 2:
      return { filters: { severityLevels: ["error", "fatal"], serviceNames: ["web"] }, threshold: 1, operator: "below", window: 5 };
    default:
      return {
        filters: { filterGroup: [{ key: "http.status_code", type: "log_attribute", operator: "exact", value: "500" }] },
        threshold: k % 8 === 3 ? 8 : 4,
        window: k % 8 === 3 ? 15 : 5,
      };
  }
}

function seed(db, organizationId, tick) {
  const random = rng(7);
  const now = Date.now();
  db.exec("BEGIN");
  const projectInsert = db.prepare(
    "INSERT INTO projects (uuid, organization_id, name, api_token, timezone, logs_retention_days, created_at, updated_at) VALUES (?, ?, ?, ?, 'UTC', 30, ?, ?) RETURNING id",
  );
  const projectIds = [];
  for (let p = 0; p < PROJECTS; p++) {
    projectIds.push(
      projectInsert.get(crypto.randomUUID(), organizationId, `bench ${p}`, `phc_bench${p}_${crypto.randomUUID()}`, now, now).id,
    );
  }

  const recordInsert = db.prepare(
    `INSERT INTO log_records (uuid, project_id, timestamp, observed_timestamp, severity_text, severity_number, service_name, body,
      trace_id, span_id, trace_flags, attributes, resource_attributes, instrumentation_scope, event_name)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, 0, ?, ?, 'bench@1.0.0', '')`,
  );
  const minutes = new Map();
  const startMs = tick - SPAN_MS;
  for (let i = 0; i < RECORDS; i++) {
    const projectId = projectIds[i % PROJECTS];
    const ts = Math.floor((startMs + (i / RECORDS) * SPAN_MS) * 1000 + random() * 1000);
    const service = SERVICES[Math.floor(random() * SERVICES.length)];
    const [level, number] = pickLogLevel(random());
    const status = STATUSES[Math.floor(random() * STATUSES.length)];
    recordInsert.run(
      crypto.randomUUID(),
      projectId,
      ts,
      ts,
      level,
      number,
      service,
      `GET /api/v1/items/${i % 5000} ${status}`,
      JSON.stringify({ "http.method": "GET", "http.status_code": status }),
      JSON.stringify({ "service.name": service }),
    );
    const key = `${projectId}\u0000${Math.floor(ts / 60_000_000)}\u0000${service}\u0000${level}`;
    minutes.set(key, (minutes.get(key) ?? 0) + 1);
  }
  const minuteInsert = db.prepare("INSERT INTO log_minute_counts VALUES (?, ?, ?, ?, ?)");
  for (const [key, n] of minutes) {
    const [projectId, minute, service, level] = key.split("\u0000");
    minuteInsert.run(Number(projectId), Number(minute), service, level, n);
  }

  const alertInsert = db.prepare(
    `INSERT INTO logs_alerts (id, organization_id, team_id, name, enabled, filters, threshold_count, threshold_operator, window_minutes,
      check_interval_minutes, evaluation_periods, datapoints_to_alarm, cooldown_minutes, snooze_until, state, version, next_check_at,
      last_notified_at, last_checked_at, consecutive_failures, last_error_message, first_enabled_at, created_by_id, created_at, updated_at)
     VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, 1, 1, 0, NULL, 'not_firing', 1, ?, NULL, NULL, 0, NULL, ?, NULL, ?, ?)`,
  );
  for (const [p, projectId] of projectIds.entries()) {
    for (let k = 0; k < ALERTS_PER_PROJECT; k++) {
      const config = alertConfig(k);
      // A fifth of the alerts is first due at each warm-up tick, spread over the minute before it.
      const due = tick + WARM_UP_TICKS_MIN[p % WARM_UP_TICKS_MIN.length] * MINUTE_MS - Math.floor(random() * MINUTE_MS);
      alertInsert.run(
        crypto.randomUUID(),
        organizationId,
        projectId,
        `alert ${k}`,
        JSON.stringify(config.filters),
        config.threshold,
        config.operator ?? "above",
        config.window,
        Math.min(config.window, 5),
        due,
        now,
        now,
        now,
      );
    }
  }
  db.exec("COMMIT");
  return projectIds;
}

/** Fires the scheduled handler and waits for it however long it runs (fetch gives up after 300 s). */
function triggerScheduled(url, scheduledTime) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/cdn-cgi/local/scheduled?cron=${encodeURIComponent("* * * * *")}&time=${scheduledTime}`, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.setTimeout(0);
    req.on("error", reject);
    req.end();
  });
}

export async function run(ctx) {
  const state = ctx.freshState("alerts");
  let worker = await startWorker(state);
  const tenant = await ctx.signup(worker);
  await worker.stop();

  const tick = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
  let db = ctx.openD1(state);
  const started = performance.now();
  seed(db, tenant.organizationId, tick);
  const counts = db.prepare("SELECT (SELECT count(*) FROM log_records) AS records, (SELECT count(*) FROM logs_alerts) AS alerts").get();
  console.log(`seeded ${counts.records} log records and ${counts.alerts} alerts in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  ctx.table(
    "Query plans (EXPLAIN QUERY PLAN)",
    [
      [
        "due alerts page",
        "SELECT * FROM logs_alerts WHERE next_check_at <= 1 AND enabled = 1 AND (next_check_at, id) > (0, '') ORDER BY next_check_at, id LIMIT 500",
      ],
      [
        "chunk commit: states",
        `UPDATE logs_alerts SET state = j.value ->> 'state' FROM json_each('[{"alertId":"a","version":1}]') AS j
         WHERE logs_alerts.id = j.value ->> 'alertId' AND logs_alerts.version = j.value ->> 'version'`,
      ],
      [
        "chunk commit: events",
        `INSERT INTO logs_alert_events (id, alert_id, kind, state_before, state_after, created_at)
         SELECT j.value ->> 'id', a.id, 'check', 'x', 'x', 0 FROM json_each('[]') AS j
         JOIN logs_alerts AS a ON a.id = j.value ->> 'alertId' AND a.version = j.value ->> 'version' WHERE true ON CONFLICT (id) DO NOTHING`,
      ],
      [
        "consumer's check: compare-and-set",
        `UPDATE logs_alerts SET last_checked_at = 1 FROM json_each('[{"alertId":"a","version":1}]') AS j
         WHERE logs_alerts.id = j.value ->> 'alertId' AND logs_alerts.version = j.value ->> 'version'
           AND logs_alerts.last_checked_at IS (j.value ->> 'readLastCheckedAt') AND logs_alerts.state = 'not_firing'`,
      ],
      [
        "chunk commit: routine prune",
        `DELETE FROM logs_alert_events AS e WHERE e.routine = 1 AND e.alert_id IN (SELECT value FROM json_each('["a"]')) AND e.window_end <
         (SELECT x.window_end FROM logs_alert_events AS x WHERE x.alert_id = e.alert_id AND x.routine = 1 ORDER BY x.window_end DESC LIMIT 1 OFFSET 9)`,
      ],
    ].map(([label, sql]) => ({
      statement: label,
      plan: db
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all()
        .map((r) => r.detail)
        .join(" | "),
    })),
  );
  db.close();

  const inspectorPort = PROFILE ? await freePort() : undefined;
  worker = await startWorker(state, {}, { inspectorPort });
  const rows = [];
  let profile = null;
  try {
    let warmUp = { due: 0, checked: 0, failed: 0, seconds: 0 };
    for (const minutes of WARM_UP_TICKS_MIN) {
      const run = await runTick(ctx, state, worker, tick + minutes * MINUTE_MS);
      warmUp = {
        due: warmUp.due + run.due,
        checked: warmUp.checked + run.checked,
        failed: warmUp.failed + run.failed,
        seconds: warmUp.seconds + run.wallMs / 1000,
      };
      await new Promise((resolve) => setTimeout(resolve, EVICTION_PAUSE_MS));
    }
    console.log(
      `warm-up: ${warmUp.checked} of ${warmUp.due} checks (creating the objects) in ${warmUp.seconds.toFixed(1)} s over ${WARM_UP_TICKS_MIN.length} ticks, ${warmUp.failed} failed`,
    );
    for (const label of ["one tick, every alert due", "same tick again (idempotent)"]) {
      const session = PROFILE && !profile ? await inspector(inspectorPort) : null;
      if (session) {
        await session.send("Profiler.enable");
        await session.send("Profiler.setSamplingInterval", { interval: 500 });
        await session.send("Profiler.start");
      }
      const run = await runTick(ctx, state, worker, tick);
      if (session) {
        profile = summarizeProfile((await session.send("Profiler.stop")).profile);
        session.close();
      }
      rows.push({
        tick: label,
        "wall (tick to last commit)": `${(run.wallMs / 1000).toFixed(2)} s`,
        chunks: run.chunks,
        due: run.due,
        checked: run.checked,
        "decided in consumer": run.decided,
        failed: run.failed,
        "notifications enqueued": run.notifications,
        "p50 per check": ctx.fmt(run.p50),
        "p95 per check": ctx.fmt(run.p95),
        "p95 queue wait": ctx.fmt(run.queueP95),
      });
    }
  } finally {
    await worker.stop();
  }
  ctx.table(
    `Cron ticks: ${counts.alerts} enabled alerts over ${counts.records} records (target <= 30 s; "wall" includes the tick's other jobs)`,
    rows,
  );

  if (profile) {
    ctx.table(
      `CPU profile of the Worker's isolate over the measured tick (busy ${(profile.busyShare * 100).toFixed(0)}% of it; inclusive shares of busy time)`,
      profile.inclusive,
    );
    ctx.table("Top self time", profile.topSelf);
  }

  db = ctx.openD1(state);
  const outcome = db.prepare("SELECT state, count(*) AS n FROM logs_alerts GROUP BY state ORDER BY state").all();
  const events = db.prepare("SELECT count(*) AS n, max(query_duration_ms) AS max_query FROM logs_alert_events").get();
  db.close();
  console.log(
    `alert states after the tick: ${outcome.map((r) => `${r.state} ${r.n}`).join(", ")}; ${events.n} events (slowest count ${events.max_query} ms)`,
  );
}

/**
 * Fires one tick and waits until its queued chunks are all checked (no alert due at `time` is left,
 * and no chunk row has appeared for a while). A check's time is its chunk's: count, objects, commit.
 */
async function runTick(ctx, state, worker, time) {
  const started = Date.now();
  const status = await triggerScheduled(worker.url, time);
  if (status !== 200) throw new Error(`scheduled: ${status}`);
  let rows = [];
  let settledSince = Date.now();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const db = ctx.openD1(state);
    try {
      const next = db.prepare("SELECT * FROM logs_alert_check_batches WHERE window_end = ? AND enqueued_at >= ?").all(time, started);
      const due = db.prepare("SELECT count(*) AS n FROM logs_alerts WHERE enabled = 1 AND next_check_at <= ?").get(time).n;
      if (next.length !== rows.length) settledSince = Date.now();
      rows = next;
      if (due === 0 && Date.now() - settledSince > 3000) break;
      if (Date.now() - settledSince > 120_000) throw new Error(`tick ${time}: ${due} alerts still due after 2 minutes without progress`);
    } finally {
      db.close();
    }
  }
  const sum = (field) => rows.reduce((n, r) => n + r[field], 0);
  const perCheck = rows.flatMap((r) => Array.from({ length: r.due }, () => r.finished_at - r.started_at));
  const waits = rows.map((r) => r.started_at - r.enqueued_at);
  return {
    wallMs: rows.length ? Math.max(...rows.map((r) => r.finished_at)) - started : 0,
    chunks: rows.length,
    due: sum("due"),
    checked: sum("checked"),
    failed: sum("failed"),
    notifications: sum("notifications"),
    decided: sum("decided_in_consumer"),
    p50: ctx.summarize(perCheck).p50,
    p95: ctx.summarize(perCheck).p95,
    queueP95: ctx.summarize(waits).p95,
  };
}

// Functions whose inclusive time the profile summary reports: a chunk's phases, then what they spend it on.
const PROFILED = [
  ["checkAlertChunk (a chunk, consumer side)", /^checkAlertChunk$/],
  ["  countWindows (counts, BatchedReads)", /^countWindows$/],
  ["  decideInConsumer", /^decideInConsumer$/],
  ["  commitRoutineChecks", /^commitRoutineChecks$/],
  ["  commitChecks", /^commitChecks$/],
  ["LogsAlertObject.check (in the objects)", /^runCheck$/],
  ["checkWrite (both sides)", /^checkWrite$/],
  ["uuidFromKey (event and notification ids)", /^uuidFromKey$/],
  ["D1 batch calls", /^batch$/],
  ["JSON.stringify", /^stringify$/],
  ["JSON.parse", /^parse$/],
  ["garbage collector", /^\(garbage collector\)$/],
];

/** Inclusive share of the busy samples (not idle) for each PROFILED entry, and the top self times. */
function summarizeProfile(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  let busy = 0;
  const hits = new Array(PROFILED.length).fill(0);
  const self = new Map();
  const callers = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    const dt = profile.timeDeltas[i] ?? 0;
    const name = node.callFrame.functionName;
    if (name === "(idle)" || name === "(program)") continue;
    busy += dt;
    const key = `${name || "(anonymous)"} ${node.callFrame.url.split("/").pop()}:${node.callFrame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    const chain = [];
    for (let id = parent.get(node.id); id !== undefined && chain.length < 4; id = parent.get(id)) {
      const caller = byId.get(id).callFrame.functionName;
      if (caller) chain.push(caller);
    }
    const byChain = callers.get(key) ?? new Map();
    byChain.set(chain.join(" < "), (byChain.get(chain.join(" < ")) ?? 0) + dt);
    callers.set(key, byChain);
    const names = new Set();
    for (let id = node.id; id !== undefined; id = parent.get(id)) names.add(byId.get(id).callFrame.functionName);
    PROFILED.forEach(([, pattern], k) => {
      if ([...names].some((n) => pattern.test(n))) hits[k] += dt;
    });
  }
  const total = profile.endTime - profile.startTime;
  if (process.env.ALERTS_BENCH_PROFILE_OUT) writeFileSync(process.env.ALERTS_BENCH_PROFILE_OUT, JSON.stringify(profile));
  return {
    busyShare: busy / total,
    inclusive: PROFILED.map(([label], k) => ({
      function: label,
      share: `${((hits[k] / busy) * 100).toFixed(1)}%`,
      ms: Math.round(hits[k] / 1000),
    })),
    topSelf: [...self]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([fn, dt]) => ({
        function: fn,
        "self share": `${((dt / busy) * 100).toFixed(1)}%`,
        ms: Math.round(dt / 1000),
        "main callers": [...callers.get(fn)]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 2)
          .map(([chain, t]) => `${chain || "(top)"} ${Math.round((t / dt) * 100)}%`)
          .join("; "),
      })),
  };
}
