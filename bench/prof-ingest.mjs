// scratch: CPU profile of activity ingest (not committed)
import * as ctx from "./lib.mjs";
async function inspector(port) {
  const [target] = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const ws = new WebSocket(target.webSocketDebuggerUrl, { headers: { Origin: "http://localhost" } });
  await new Promise((o, f) => { ws.onopen = o; ws.onerror = f; });
  await new Promise((r) => setTimeout(r, 1000));
  let last = 0; const pending = new Map();
  ws.onmessage = (e) => { const m = JSON.parse(e.data); pending.get(m.id)?.(m.result); pending.delete(m.id); };
  const send = (method, params = {}) => new Promise((d) => { const id = ++last; pending.set(id, d); ws.send(JSON.stringify({ id, method, params })); });
  return { send, close: () => ws.close() };
}
const state = ctx.freshState("prof-ingest");
const port = await ctx.freePort();
const w = await ctx.startWorker(state, { X_NOSEAL: process.env.X_NOSEAL ?? "0", X_NOPUB: process.env.X_NOPUB ?? "0" }, { inspectorPort: port });
const t = await ctx.signup(w);
const FIELDS = ["name", "active", "rollout", "filters", "deleted"];
let n = 0;
const body = () => JSON.stringify({ entries: Array.from({ length: 1000 }, (_, i) => ({ scope: "FeatureFlag", activity: "updated", item_id: `ff-${n++}`, detail: { name: `flag-${i}`, short_id: String(i).padStart(6, "0"), changes: [{ type: "FeatureFlag", action: "changed", field: FIELDS[i % 5], before: i % 100, after: (i * 7) % 100 }] } })) });
const post = async () => { const s = performance.now(); const r = await fetch(`${w.url}/api/projects/${t.projectId}/activity_log/`, { method: "POST", headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json" }, body: body() }); await r.text(); if (r.status !== 201) throw new Error(String(r.status)); return [performance.now() - s, r.headers.get("server-timing")]; };
for (let i = 0; i < 5; i++) await post();
const profiling = process.env.PROFILE === "1";
const s = profiling ? await inspector(port) : null;
if (s) { await s.send("Profiler.enable"); await s.send("Profiler.setSamplingInterval", { interval: 200 }); await s.send("Profiler.start"); }
const started = performance.now(); const times = [];
for (let i = 0; i < 30; i++) { const [ms, st] = await post(); times.push(ms); if (i < 2) console.log(st); }
const secs = (performance.now() - started) / 1000;
times.sort((a, b) => a - b);
console.log(`rows/s ${Math.round(30000 / secs)} p50 ${times[15].toFixed(1)} p95 ${times[28].toFixed(1)}`);
if (s) {
  await new Promise((r) => setTimeout(r, 1500));
  const { profile } = await s.send("Profiler.stop");
  const byId = new Map(profile.nodes.map((x) => [x.id, x])); const parent = new Map();
  for (const x of profile.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const self = new Map(), incl = new Map(); let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]); const dt = profile.timeDeltas[i] ?? 0; const nm = node.callFrame.functionName || "(anon)";
    if (nm === "(idle)" || nm === "(program)") continue; busy += dt;
    const key = (x) => `${x.callFrame.functionName || "(anon)"} ${x.callFrame.url.split("/").slice(-2).join("/")}:${x.callFrame.lineNumber}`;
    self.set(key(node), (self.get(key(node)) ?? 0) + dt);
    const seen = new Set();
    for (let id = node.id; id !== undefined; id = parent.get(id)) { const k = key(byId.get(id)); if (!seen.has(k)) { seen.add(k); incl.set(k, (incl.get(k) ?? 0) + dt); } }
  }
  const scripts = new Map();
  await s.send("Debugger.enable");
  const src = async (x) => { const id = x.callFrame.scriptId; if (!scripts.has(id)) { const r = await s.send("Debugger.getScriptSource", { scriptId: id }); scripts.set(id, (r?.scriptSource ?? "").split("\n")); } return (scripts.get(id)[x.callFrame.lineNumber] ?? "").trim().slice(0, 90); };
  const firstNode = new Map(); for (const x of profile.nodes) { const k = `${x.callFrame.functionName || "(anon)"} ${x.callFrame.url.split("/").slice(-2).join("/")}:${x.callFrame.lineNumber}`; if (!firstNode.has(k)) firstNode.set(k, x); }
  globalThis.__src = async (k) => (firstNode.get(k) && firstNode.get(k).callFrame.url.includes("index.js") ? await src(firstNode.get(k)) : "");
  const total = profile.endTime - profile.startTime;
  console.log(`busy ${(busy / total * 100).toFixed(0)}% of ${(total / 1e6).toFixed(1)} s; per batch busy ${(busy / 1000 / 30).toFixed(1)} ms`);
  console.log("--- self"); for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log((v / busy * 100).toFixed(1).padStart(5), k, await globalThis.__src(k));
  console.log("--- inclusive"); for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, 60)) console.log((v / busy * 100).toFixed(1).padStart(5), k, await globalThis.__src(k));
  s.close();
}
await w.stop();
