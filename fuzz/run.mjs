// `npm run fuzz`: requests generated from the served OpenAPI document against `wrangler dev` with a
// seeded tenant, on a fresh local state. Fails on any 5xx, error body outside the envelope, or
// answer slower than 10 s. FUZZ_RUNS (default 10000), FUZZ_SEED (default 1), PORT (default 8817).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { applyLocalMigrations, startDevServer } from "../scripts/dev-server.mjs";
import { requestArbitrary, violation } from "./requests.ts";

const runs = Number(process.env.FUZZ_RUNS ?? 10_000);
const seedValue = Number(process.env.FUZZ_SEED ?? 1);
const port = Number(process.env.PORT ?? 8817);
const CONCURRENCY = 4;
const FAILURES = join(tmpdir(), "edge-audit-fuzz-failures.jsonl");

const persistTo = mkdtempSync(join(tmpdir(), "edge-audit-fuzz-"));
applyLocalMigrations(persistTo);
// Limits off: one key sends every request, and the fuzz is after answers, not 429s.
const server = await startDevServer({ port, persistTo, quiet: true, vars: { RATE_LIMITS: "off" } });
try {
  const signup = await fetch(`${server.url}/api/signup/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "fuzz@example.com", first_name: "Fuzz", organization_name: "Fuzz", project_name: "Fuzz" }),
  }).then((r) => r.json());
  const seed = { key: signup.personal_api_key.value, organizationId: signup.organization.id, projectId: signup.project.id };
  const doc = await fetch(`${server.url}/api/schema/`).then((r) => r.json());
  const requests = fc.sample(requestArbitrary(doc, seed), { numRuns: runs, seed: seedValue });

  const statuses = new Map();
  const kinds = new Map();
  const failures = [];
  const durations = [];
  let next = 0;
  const started = Date.now();
  async function worker() {
    while (next < requests.length) {
      const req = requests[next++];
      const t0 = Date.now();
      let status = 0;
      let text = "";
      try {
        const res = await fetch(`${server.url}${req.path}`, {
          method: req.method,
          headers: req.headers,
          body: req.body,
          signal: AbortSignal.timeout(15_000),
        });
        status = res.status;
        text = await res.text();
      } catch (error) {
        text = String(error);
        status = 599;
      }
      const ms = Date.now() - t0;
      durations.push(ms);
      const bucket = `${Math.floor(status / 100)}xx`;
      statuses.set(bucket, (statuses.get(bucket) ?? 0) + 1);
      kinds.set(req.kind, (kinds.get(req.kind) ?? 0) + 1);
      if (durations.length % 1000 === 0) console.error(`${durations.length} requests, ${failures.length} violations`);
      const problem = violation(status, text, ms);
      if (problem) failures.push({ problem, method: req.method, path: req.path.slice(0, 200), kind: req.kind, answer: text.slice(0, 300) });
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  durations.sort((a, b) => a - b);
  const pct = (p) => durations[Math.min(durations.length - 1, Math.floor((p / 100) * durations.length))];
  console.log(
    JSON.stringify(
      {
        requests: requests.length,
        operations: Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0),
        seconds: Math.round((Date.now() - started) / 1000),
        statuses: Object.fromEntries([...statuses].sort()),
        kinds: Object.fromEntries(kinds),
        ms: { p50: pct(50), p99: pct(99), max: durations.at(-1) },
        violations: failures.length,
      },
      null,
      2,
    ),
  );
  for (const f of failures.slice(0, 30)) console.log(JSON.stringify(f));
  if (failures.length) {
    writeFileSync(FAILURES, failures.map((f) => JSON.stringify(f)).join("\n"));
    console.log(`all ${failures.length} violations: ${FAILURES}`);
  }
  process.exitCode = failures.length ? 1 : 0;
} finally {
  await server.stop();
  rmSync(persistTo, { recursive: true, force: true });
}
