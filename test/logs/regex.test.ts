import { beforeAll, describe, expect, it } from "vitest";
import { countLogs } from "../../src/logs/count.queries";
import { call, db, signupFirstUser, type Tenant } from "../helpers";
import { ingest, otlpPayload } from "./otlp-fixtures";

// Regex filters run RE2 (linear in the text). A backtracking engine takes 2^n steps for `(a+)+$`
// over n `a`s followed by a non-match: 30 characters held the isolate for seconds.

let t: Tenant;
const now = Date.now();
const LONG = `${"a".repeat(10_000)}!`;
const CATASTROPHIC = [{ key: "message", type: "log", operator: "regex", value: "(a+)+$" }];
/** Generous for a shared 2-core box: the backtracking engine would not finish this in hours. */
const FAST_MS = 2_000;

beforeAll(async () => {
  t = await signupFirstUser();
  const res = await ingest(
    t.apiToken,
    otlpPayload({
      api: [
        { body: LONG, ms: now - 20 * 60_000, severityNumber: 17, severityText: "ERROR" },
        { body: "Job FAILED: timeout", ms: now - 19 * 60_000 },
        { body: "job started", ms: now - 18 * 60_000 },
        { body: "aaaa", ms: now - 17 * 60_000 },
      ],
    }),
  );
  expect(res.status).toBe(200);
});

const post = (path: string, body: Record<string, unknown>) => call(`/api/projects/${t.projectId}/logs/${path}/`, { key: t.key, body });
const message = (operator: string, value: string) => [{ key: "message", type: "log", operator, value }];

async function timed<T>(run: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await run();
  return { result, ms: performance.now() - started };
}

describe("regex filters in linear time", () => {
  it("answers (a+)+$ over a 10,000-character body in milliseconds: query, count, sparkline, simulate and alert checks", async () => {
    const query = await timed(() => post("query", { query: { filterGroup: CATASTROPHIC, orderBy: "earliest" } }));
    expect(query.result.status).toBe(200);
    expect(query.result.body.results.map((r: any) => r.body)).toEqual(["aaaa"]);
    expect(query.ms).toBeLessThan(FAST_MS);

    const negated = await post("query", { query: { filterGroup: message("not_regex", "(a+)+$"), orderBy: "earliest" } });
    expect(negated.body.results.map((r: any) => r.body)).toEqual([LONG, "Job FAILED: timeout", "job started"]);

    const count = await timed(() => post("count", { query: { filterGroup: CATASTROPHIC } }));
    expect(count.result.body).toEqual({ count: 1 });
    expect(count.ms).toBeLessThan(FAST_MS);

    const sparkline = await timed(() => post("sparkline", { query: { filterGroup: CATASTROPHIC } }));
    expect(sparkline.result.status).toBe(200);
    expect(sparkline.result.body.reduce((n: number, p: any) => n + p.count, 0)).toBe(1);
    expect(sparkline.ms).toBeLessThan(FAST_MS);

    const simulate = await timed(() =>
      call(`/api/projects/${t.projectId}/logs/alerts/simulate/`, {
        key: t.key,
        body: { filters: { filterGroup: CATASTROPHIC }, threshold_count: 0, date_from: "-1h" },
      }),
    );
    expect(simulate.result.status).toBe(200);
    expect(simulate.result.body.buckets.reduce((n: number, b: any) => n + b.count, 0)).toBe(1);
    expect(simulate.ms).toBeLessThan(FAST_MS);

    // What the cron's alert checks run.
    const check = await timed(() => countLogs(db(), t.projectId, { filterGroup: CATASTROPHIC } as never, now - 3_600_000, now));
    expect(check.result).toBe(1);
    expect(check.ms).toBeLessThan(FAST_MS);
  });

  it("speaks RE2: inline flags anywhere, POSIX classes", async () => {
    const bodies = async (value: string) =>
      (await post("query", { query: { filterGroup: message("regex", value), orderBy: "earliest" } })).body.results.map((r: any) => r.body);
    expect(await bodies("^(?i)job")).toEqual(["Job FAILED: timeout", "job started"]);
    expect(await bodies("FAILED|(?i:^JOB S)")).toEqual(["Job FAILED: timeout", "job started"]);
    expect(await bodies("^[[:lower:]]+$")).toEqual(["aaaa"]);
  });

  it.each([
    ["a backreference", "(a)\\1"],
    ["a lookahead", "job(?= started)"],
    ["a negative lookahead", "job(?!x)"],
    ["a lookbehind", "(?<=job) started"],
    ["a possessive quantifier", "a++"],
    ["an unclosed group", "(unclosed"],
  ])("%s -> 400 naming the filter's value, on every endpoint", async (_name, pattern) => {
    const filterGroup = [{ key: "message", type: "log", operator: "regex", value: "x" }, ...message("regex", pattern)];
    for (const [path, body, attr] of [
      ["query", { query: { filterGroup } }, "query__filterGroup__1__value"],
      ["count", { query: { filterGroup } }, "query__filterGroup__1__value"],
      ["sparkline", { query: { filterGroup } }, "query__filterGroup__1__value"],
    ] as const) {
      const res = await post(path, body);
      expect(res.status, path).toBe(400);
      expect(res.body).toMatchObject({ type: "validation_error", code: "invalid_input", attr });
      expect(res.body.detail).toContain("RE2");
    }
    const alert = await call(`/api/projects/${t.projectId}/logs/alerts/`, {
      key: t.key,
      body: { name: "re2", threshold_count: 1, filters: { filterGroup } },
    });
    expect(alert.status).toBe(400);
    expect(alert.body).toMatchObject({ type: "validation_error", attr: "filters__filterGroup__1__value" });
  });
});
