// Regex filters: a catastrophic pattern, `(a+)+$`, over bodies of `a`s ending in `!` (no match).
// Backtracking takes 2^n steps for n `a`s; RE2 (the engine the logs filters run) is linear.
// Target (issue #12): a 10,000-character body answers in milliseconds, on every regex path.
import { RE2JS } from "re2js";
import { request, signup, startWorker } from "./lib.mjs";

const PATTERN = "(a+)+$";
const LENGTHS = [1_000, 10_000, 100_000];
const BACKTRACKING_LENGTHS = [18, 20, 22, 24];

const body = (n) => `${"a".repeat(n)}!`;

function timeOnce(fn) {
  const started = performance.now();
  fn();
  return performance.now() - started;
}

export async function run(ctx) {
  const engines = [];
  const re2 = RE2JS.compile(PATTERN);
  for (const n of LENGTHS) {
    const text = body(n);
    re2.test(text);
    const stats = ctx.summarize(Array.from({ length: 20 }, () => timeOnce(() => re2.test(text))));
    engines.push({ engine: "RE2 (re2js)", characters: n, p50: ctx.fmt(stats.p50), max: ctx.fmt(stats.p99) });
  }
  const js = new RegExp(PATTERN);
  js.test(body(10));
  for (const n of BACKTRACKING_LENGTHS) {
    const text = body(n);
    engines.push({ engine: "JavaScript RegExp (before)", characters: n, p50: ctx.fmt(timeOnce(() => js.test(text))), max: "" });
  }
  ctx.table(`One ${PATTERN} test in node (RE2: 20 runs each after one warm-up; JavaScript: one run, it doubles per character)`, engines);

  const state = ctx.freshState("regex");
  const worker = await startWorker(state);
  try {
    const tenant = await signup(worker);
    const now = Date.now();
    const records = LENGTHS.map((n, i) => ({
      timeUnixNano: `${now - (20 - i) * 60_000}000000`,
      severityNumber: 17,
      severityText: "ERROR",
      body: { stringValue: body(n) },
    }));
    records.push({ timeUnixNano: `${now - 10 * 60_000}000000`, severityNumber: 9, body: { stringValue: "aaaa" } });
    const ingested = await request(worker, "/i/v1/logs", {
      key: tenant.apiToken,
      body: { resourceLogs: [{ resource: { attributes: [] }, scopeLogs: [{ logRecords: records }] }] },
    });
    if (ingested.status !== 200) throw new Error(`ingest failed: ${ingested.status} ${JSON.stringify(ingested.body)}`);

    const filterGroup = [{ key: "message", type: "log", operator: "regex", value: PATTERN }];
    const project = `/api/projects/${tenant.projectId}`;
    const scenarios = [
      ["logs/query/", `${project}/logs/query/`, { query: { filterGroup } }],
      ["logs/count/", `${project}/logs/count/`, { query: { filterGroup } }],
      ["logs/sparkline/", `${project}/logs/sparkline/`, { query: { filterGroup } }],
      [
        "logs/alerts/simulate/ (1 h)",
        `${project}/logs/alerts/simulate/`,
        { filters: { filterGroup }, threshold_count: 0, date_from: "-1h" },
      ],
    ];
    const rows = [];
    for (const [label, path, payload] of scenarios) {
      const server = [];
      const client = await ctx.measure(
        async () => {
          const res = await request(worker, path, { body: payload, key: tenant.key });
          if (res.status !== 200) throw new Error(`${label}: ${res.status} ${JSON.stringify(res.body)}`);
          server.push(res.serverMs);
        },
        { iterations: 30, warmup: 3 },
      );
      const inWorker = ctx.summarize(server.slice(-30));
      rows.push({
        endpoint: label,
        "client p50": ctx.fmt(client.p50),
        "client p95": ctx.fmt(client.p95),
        "in Worker p50": ctx.fmt(inWorker.p50),
        "in Worker p95": ctx.fmt(inWorker.p95),
      });
    }
    ctx.table(
      `${PATTERN} through the API over bodies of ${LENGTHS.join(", ")} characters (+ one match), 30 sequential requests each`,
      rows,
    );
  } finally {
    await worker.stop();
  }
}
