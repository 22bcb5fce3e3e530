// Shared benchmark helpers. Each suite (`bench/<name>.bench.mjs`) exports `run(ctx)`; `ctx` is this module.
import { mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { applyLocalMigrations, localD1File, startDevServer, triggerScheduled } from "../scripts/dev-server.mjs";

const DATA_DIR = resolve(import.meta.dirname, ".data");

/** A port the OS says is free right now, so suites run side by side never share a server. */
function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/**
 * A fresh local state directory with migrations applied. Seed it through `openD1(state)` BEFORE
 * `startWorker(state)` (workerd keeps the file open while it runs), or through the API afterwards.
 */
export function freshState(name) {
  const persistTo = join(DATA_DIR, name);
  rmSync(persistTo, { recursive: true, force: true });
  mkdirSync(persistTo, { recursive: true });
  applyLocalMigrations(persistTo);
  return { name, persistTo, d1File: localD1File(persistTo) };
}

/** The state's D1 SQLite file through node:sqlite (bulk seeding, raw-SQL baselines). */
export function openD1(state) {
  // workerd holds the file while it runs: wait for its locks instead of failing at once (SQLITE_BUSY).
  const db = new DatabaseSync(state.d1File, { timeout: 10_000 });
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
  return db;
}

/**
 * `wrangler dev` of the app (or, with `options.config`, another Worker such as a floor) on the
 * state's local files. `RATE_LIMITS=off`: the benchmarks drive one key or project token far past the
 * deployed per-minute limits (wrangler.toml `[[ratelimits]]`), and the local limiter (a Durable
 * Object in miniflare) costs nothing like the deployed one, so it is not measured either. Nor is
 * wrangler's local observability (a trace store fed by every invocation, in the same workerd).
 */
export async function startWorker(state, vars = {}, options = {}) {
  return startDevServer({
    port: await freePort(),
    persistTo: state.persistTo,
    vars: { ALLOW_LOOPBACK_DESTINATIONS: "true", RATE_LIMITS: "off", ...vars },
    quiet: true,
    localObservability: false,
    ...options,
  });
}

export { freePort };

export { triggerScheduled };

/**
 * A `Server-Timing` entry of a response in ms, NaN when absent: `app` is the whole request inside
 * the Worker, `db` the D1 work a route reports (a page's queries, an ingestion batch).
 */
export function serverTiming(res, name) {
  const match = new RegExp(`(?:^|,\\s*)${name};dur=([\\d.]+)`).exec(res.headers.get("server-timing") ?? "");
  return match ? Number(match[1]) : Number.NaN;
}

/** The D1 round trips a response reports (`Server-Timing: db;dur=4;desc="2 round trips"`), NaN when absent. */
export function roundTrips(res) {
  const match = /(?:^|,\s*)db;[^,]*desc="(\d+) round trips?"/.exec(res.headers.get("server-timing") ?? "");
  return match ? Number(match[1]) : Number.NaN;
}

/** Sends requests 0..total-1 through `send(i)` from `concurrency` clients at once; returns the seconds taken. */
export async function drive(total, concurrency, send) {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await send(next++);
    }),
  );
  return (performance.now() - started) / 1000;
}

/** Deterministic pseudo-random numbers so every run seeds the same data. */
export function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Log severities `[text, OTLP number, share]`, weighted as a busy production system logs them. */
export const LOG_LEVELS = [
  ["debug", 5, 0.1],
  ["info", 9, 0.7],
  ["warn", 13, 0.12],
  ["error", 17, 0.07],
  ["fatal", 21, 0.01],
];

/** The severity a uniform draw `r` in [0, 1) falls on. */
export function pickLogLevel(r) {
  let acc = 0;
  for (const level of LOG_LEVELS) {
    acc += level[2];
    if (r < acc) return level;
  }
  return LOG_LEVELS[1];
}

/** JSON request against a started worker; returns `{ status, body, ms, serverMs }`. */
export async function request(worker, path, { method, body, key, headers = {} } = {}) {
  const init = { method: method ?? (body === undefined ? "GET" : "POST"), headers: { ...headers } };
  if (key) init.headers.authorization = `Bearer ${key}`;
  if (body !== undefined) {
    init.body = typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body);
    init.headers["content-type"] ??= "application/json";
  }
  const started = performance.now();
  const res = await fetch(`${worker.url}${path}`, init);
  const text = await res.text();
  const ms = performance.now() - started;
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed, ms, serverMs: serverTiming(res, "app"), roundTrips: roundTrips(res), headers: res.headers };
}

/** First-run signup on an empty instance: `{ key, organizationId, projectId, apiToken, userId }`. */
export async function signup(worker, email = "bench@example.com") {
  const res = await request(worker, "/api/signup/", { body: { email, first_name: "Bench", organization_name: "Bench org" } });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${JSON.stringify(res.body)}`);
  const b = res.body;
  return {
    key: b.personal_api_key.value,
    organizationId: b.organization.id,
    projectId: b.project.id,
    apiToken: b.project.api_token,
    userId: b.user.id,
  };
}

export function percentile(sorted, p) {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function summarize(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((s, v) => s + v, 0) / (sorted.length || 1);
  return { n: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), mean };
}

/** Runs `fn` `iterations` times (after `warmup` runs) and summarises its returned or measured milliseconds. */
export async function measure(fn, { iterations = 50, warmup = 5 } = {}) {
  for (let i = 0; i < warmup; i++) await fn();
  const samples = [];
  for (let i = 0; i < iterations; i++) {
    const started = performance.now();
    const reported = await fn();
    samples.push(typeof reported === "number" ? reported : performance.now() - started);
  }
  return summarize(samples);
}

/** Times a raw SQL statement on a node:sqlite connection (the baseline for server-time ratios). */
export function measureSql(db, sql, params = [], { iterations = 50, warmup = 5 } = {}) {
  const statement = db.prepare(sql);
  for (let i = 0; i < warmup; i++) statement.all(...params);
  const samples = [];
  for (let i = 0; i < iterations; i++) {
    const started = performance.now();
    statement.all(...params);
    samples.push(performance.now() - started);
  }
  return summarize(samples);
}

export const fmt = (ms) => (Number.isFinite(ms) ? `${ms.toFixed(2)} ms` : "n/a");

/** Prints rows as an aligned table. */
export function table(title, rows) {
  console.log(`\n## ${title}`);
  if (!rows.length) return;
  const columns = Object.keys(rows[0]);
  const width = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (values) => values.map((v, i) => String(v).padEnd(width[i])).join("  ");
  console.log(line(columns));
  console.log(line(width.map((w) => "-".repeat(w))));
  for (const row of rows) console.log(line(columns.map((c) => row[c])));
}

/**
 * Bytes on disk of the tables (and their indexes, FTS shadow tables) whose table name starts with
 * one of `prefixes`, from SQLite's `dbstat` (every page each b-tree holds, free space inside the
 * pages included: what the tables add to the file), divided by `rows`. Prints a table per object
 * and returns the total bytes and bytes per row.
 */
export function storageTable(db, title, prefixes, rows) {
  const owner = new Map(
    db
      .prepare("SELECT name, tbl_name FROM sqlite_schema")
      .all()
      .map((r) => [r.name, r.tbl_name]),
  );
  const objects = db
    .prepare("SELECT name, count(*) AS pages, sum(pgsize) AS bytes, sum(payload) AS payload FROM dbstat GROUP BY name ORDER BY bytes DESC")
    .all()
    .filter((o) => prefixes.some((p) => (owner.get(o.name) ?? o.name).startsWith(p)));
  const total = objects.reduce((sum, o) => sum + o.bytes, 0);
  const { page_size: pageSize } = db.prepare("PRAGMA page_size").get();
  const { page_count: pageCount } = db.prepare("PRAGMA page_count").get();
  table(title, [
    ...objects.map((o) => ({
      object: o.name,
      of: owner.get(o.name) ?? "",
      MB: (o.bytes / 1e6).toFixed(1),
      "bytes/row": (o.bytes / rows).toFixed(1),
      "payload bytes/row": (o.payload / rows).toFixed(1),
    })),
    { object: "total", of: `${rows} rows`, MB: (total / 1e6).toFixed(1), "bytes/row": (total / rows).toFixed(1), "payload bytes/row": "" },
    {
      object: "(whole file)",
      of: `page ${pageSize} B`,
      MB: ((pageSize * pageCount) / 1e6).toFixed(1),
      "bytes/row": "",
      "payload bytes/row": "",
    },
  ]);
  return { bytes: total, bytesPerRow: total / rows };
}

/** A Chrome DevTools Protocol session on workerd's inspector (node 22's WebSocket). */
export async function inspector(port) {
  const [target] = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  // wrangler's inspector proxy accepts local origins only.
  const ws = new WebSocket(target.webSocketDebuggerUrl, { headers: { Origin: "http://localhost" } });
  await new Promise((opened, failed) => {
    ws.onopen = opened;
    ws.onerror = failed;
  });
  // Let the proxy attach to the runtime before the first command.
  await new Promise((attached) => setTimeout(attached, 1000));
  let last = 0;
  const pending = new Map();
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    pending.get(message.id)?.(message.result);
    pending.delete(message.id);
  };
  const send = (method, params = {}) =>
    new Promise((done) => {
      const id = ++last;
      pending.set(id, done);
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { send, close: () => ws.close() };
}
