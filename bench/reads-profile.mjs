// Where a read's CPU goes in the app's isolate: a V8 CPU profile through workerd's inspector.
//   node bench/reads-profile.mjs setup            seeds bench/.data/reads-profile (once)
//   node bench/reads-profile.mjs [label ...]      profiles the floor bench's scenarios (all, or those whose label contains a word)
// READS_PROFILE_N requests per scenario (default 100), READS_PROFILE_JSON=dir keeps the raw profiles,
// READS_PROFILE_FLOOR=1 profiles the floor Worker (bench/floor/worker.ts) on the same requests instead.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { catchUpIndexes, scenarios, seed, setupTenant } from "./activity.bench.mjs";
import { floorConfig } from "./floor.bench.mjs";
import * as ctx from "./lib.mjs";

const N = Number(process.env.READS_PROFILE_N ?? 100);
const ROWS = Number(process.env.READS_PROFILE_ROWS ?? 20_000);
const NAME = "reads-profile";

/** Self and inclusive time per function (ms per request), with the start of the function's source line. */
function summarize(profile, requests, sources) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map();
  const inclusive = new Map();
  let busy = 0;
  const key = (f) =>
    `${f.functionName || "(anon)"} ${f.url.split("/").pop()}:${f.lineNumber + 1}  ${(sources.get(f.scriptId)?.[f.lineNumber] ?? "").trim().slice(0, 90)}`;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const name = node.callFrame.functionName;
    if (name === "(idle)" || name === "(program)") continue;
    busy += dt;
    self.set(key(node.callFrame), (self.get(key(node.callFrame)) ?? 0) + dt);
    const seen = new Set();
    for (let id = node.id; id !== undefined; id = parent.get(id)) {
      const k = key(byId.get(id).callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
    }
  }
  const top = (m, n) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([fn, ms]) => `${(ms / requests).toFixed(3)} ms  ${fn}`);
  return { busyPerRequest: busy / requests, self: top(self, 30), inclusive: top(inclusive, 60) };
}

const state = { name: NAME, persistTo: join(import.meta.dirname, ".data", NAME) };
const tenantFile = join(state.persistTo, "tenant.json");

if (process.argv[2] === "setup") {
  const fresh = ctx.freshState(NAME);
  let app = await ctx.startWorker(fresh);
  const tenant = await setupTenant(ctx, app);
  await app.stop();
  const endMs = Date.now() - 60_000;
  const db = ctx.openD1(fresh);
  seed(db, tenant, endMs, ROWS);
  app = await ctx.startWorker(fresh);
  await catchUpIndexes(ctx, app, db);
  const logsProject = tenant.projects[3];
  const token = (await ctx.request(app, `/api/projects/${logsProject}/`, { key: tenant.key })).body.api_token;
  await app.stop();
  db.close();
  writeFileSync(tenantFile, JSON.stringify({ tenant, endMs, token, d1File: fresh.d1File }));
  console.log("seeded");
  process.exit(0);
}

const { tenant, endMs, d1File } = JSON.parse(readFileSync(tenantFile, "utf8"));
const db = ctx.openD1({ d1File });
const logs = `/api/projects/${tenant.projects[3]}/logs`;
const wanted = process.argv.slice(2);
const all = [
  ...scenarios(tenant, endMs, db).map((s) => ({ label: s.label, path: s.path })),
  {
    label: "logs query: one service",
    path: `${logs}/query/`,
    body: { query: { dateRange: { date_from: "-1h" }, limit: 100, serviceNames: ["svc-1"] } },
  },
];
db.close();
const chosen = all.filter((s) => !wanted.length || wanted.some((w) => s.label.includes(w)));
const port = await ctx.freePort();
const FLOOR = process.env.READS_PROFILE_FLOOR === "1";
const app = await ctx.startWorker(
  state,
  {},
  FLOOR ? { inspectorPort: port, config: floorConfig(state), readyPath: "/" } : { inspectorPort: port },
);
const session = await ctx.inspector(port);
const dir = process.env.READS_PROFILE_JSON;
if (dir && !existsSync(dir)) mkdirSync(dir, { recursive: true });
try {
  await session.send("Profiler.enable");
  await session.send("Profiler.setSamplingInterval", { interval: 100 });
  for (const s of chosen) {
    const init = s.body
      ? {
          method: "POST",
          headers: { authorization: `Bearer ${tenant.key}`, "content-type": "application/json" },
          body: JSON.stringify(s.body),
        }
      : { headers: { authorization: `Bearer ${tenant.key}` } };
    const get = async () => {
      const res = await fetch(`${app.url}${FLOOR ? "/floor/read" : ""}${s.path}`, init);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${s.path}: ${res.status}`);
      return { app: ctx.serverTiming(res, "app"), db: ctx.serverTiming(res, "db") };
    };
    for (let i = 0; i < 20; i++) await get();
    await session.send("Profiler.start");
    const timings = [];
    for (let i = 0; i < N; i++) timings.push(await get());
    const { profile } = await session.send("Profiler.stop");
    // Enabled only now: a debugger attached while profiling slows the code down.
    await session.send("Debugger.enable");
    const sources = new Map();
    for (const id of new Set(profile.nodes.map((n) => n.callFrame.scriptId))) {
      if (id === "0") continue;
      const source = await session.send("Debugger.getScriptSource", { scriptId: id });
      if (source?.scriptSource) sources.set(id, source.scriptSource.split("\n"));
    }
    await session.send("Debugger.disable");
    if (dir) writeFileSync(join(dir, `${s.label.replace(/\W+/g, "_")}.cpuprofile`), JSON.stringify(profile));
    const r = summarize(profile, N, sources);
    const appMs = ctx.summarize(timings.map((t) => t.app));
    const dbMs = ctx.summarize(timings.map((t) => t.db));
    console.log(
      `\n## ${s.label}: isolate busy ${r.busyPerRequest.toFixed(2)} ms/request; Server-Timing app p50 ${appMs.p50} db p50 ${dbMs.p50}`,
    );
    console.log(`self:\n  ${r.self.join("\n  ")}`);
    console.log(`inclusive:\n  ${r.inclusive.join("\n  ")}`);
  }
} finally {
  session.close();
  await app.stop();
}
