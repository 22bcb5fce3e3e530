import { beforeAll, describe, expect, it } from "vitest";
import { floorMinute } from "../../src/alerts/alerts.queries";
import { call, keyWithScopes, signupFirstUser, type Tenant } from "../helpers";
import { ingest, otlpPayload } from "../logs/otlp-fixtures";
import { MINUTE } from "./alert-helpers";

let owner: Tenant;
let path: string;
/** Start of a five-minute window two hours ago holding a burst of 30 errors. */
let burst: number;

beforeAll(async () => {
  owner = await signupFirstUser();
  path = `/api/projects/${owner.projectId}/logs/alerts/simulate/`;
  burst = floorMinute(Date.now()) - 120 * MINUTE;
  const errors = (at: number, n: number, body: string) =>
    Array.from({ length: n }, (_, i) => ({ ms: at + i * 1000, severityNumber: 17, severityText: "ERROR", body }));
  const res = await ingest(
    owner.apiToken,
    otlpPayload({
      web: [
        ...errors(burst + 2 * MINUTE, 30, "payment boom"),
        ...errors(burst + 60 * MINUTE, 3, "payment boom"),
        { ms: burst, body: "ok" },
      ],
      worker: errors(burst + 2 * MINUTE, 4, "queue stalled"),
    }),
  );
  expect(res.status).toBe(200);
});

const simulate = (body: Record<string, unknown>, key = owner.key) => call(path, { key, body });

describe("simulate", () => {
  it("replays the state machine over stored logs, one bucket per check", async () => {
    const res = await simulate({ filters: { severityLevels: ["error"], serviceNames: ["web"] }, threshold_count: 10, date_from: "-3h" });
    expect(res.status).toBe(200);
    const { buckets, fire_count, resolve_count, total_buckets } = res.body;
    expect([fire_count, resolve_count]).toEqual([1, 1]);
    expect(total_buckets).toBe(buckets.length);
    expect(total_buckets).toBeGreaterThanOrEqual(35);
    const firing = buckets.findIndex((b: any) => b.notification === "firing");
    expect(buckets[firing]).toMatchObject({ count: 30, threshold_breached: true, state: "firing" });
    expect(buckets[firing].reason).toContain("30 > 10");
    expect(buckets[firing + 1]).toMatchObject({ count: 0, threshold_breached: false, state: "not_firing", notification: "resolved" });
    expect(buckets.reduce((sum: number, b: any) => sum + b.count, 0)).toBe(33);
    expect(Date.parse(buckets[1].timestamp) - Date.parse(buckets[0].timestamp)).toBe(5 * MINUTE);
  });

  it("counts the same through counters, record filters and regex filters", async () => {
    const counts = async (filters: Record<string, unknown>) => {
      const res = await simulate({ filters, threshold_count: 10, date_from: "-3h" });
      expect(res.status).toBe(200);
      return res.body.buckets.map((b: any) => b.count).filter((n: number) => n > 0);
    };
    const expected = [34, 3];
    expect(await counts({ severityLevels: ["error"] })).toEqual(expected);
    expect(await counts({ filterGroup: [{ key: "severity_text", type: "log", operator: "exact", value: "error" }] })).toEqual(expected);
    expect(
      await counts({ severityLevels: ["error"], filterGroup: [{ key: "message", type: "log", operator: "regex", value: "boom|stalled" }] }),
    ).toEqual(expected);
    expect(await counts({ filterGroup: [{ key: "message", type: "log", operator: "icontains", value: "stalled" }] })).toEqual([4]);
  });

  it("needs N of M breaching windows, as the live checks do", async () => {
    const res = await simulate({
      filters: { severityLevels: ["error"] },
      threshold_count: 10,
      evaluation_periods: 3,
      datapoints_to_alarm: 2,
      date_from: "-3h",
    });
    expect([res.body.fire_count, res.body.resolve_count]).toEqual([0, 0]);
    expect(res.body.buckets.every((b: any) => b.state === "not_firing")).toBe(true);
  });

  it("validates the range and the rules", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ threshold_count: 1 }, "filters"],
      [{ filters: {} }, "filters"],
      [{ filters: { severityLevels: ["error"] }, date_from: "-40d" }, "date_from"],
      [{ filters: { severityLevels: ["error"] }, date_from: "yesterday-ish" }, "date_from"],
      [{ filters: { severityLevels: ["error"] }, date_from: "-1h", date_to: "-2h" }, "date_from"],
      [{ filters: { severityLevels: ["error"] }, window_minutes: 1, date_from: "-30d" }, "date_from"],
      [{ filters: { severityLevels: ["error"] }, evaluation_periods: 1, datapoints_to_alarm: 2 }, "datapoints_to_alarm"],
      [{ filters: { severityLevels: ["error"] }, window_minutes: 2 }, "window_minutes"],
    ];
    for (const [body, attr] of cases) {
      const res = await simulate(body);
      expect([res.status, res.body.attr], JSON.stringify(body)).toEqual([400, attr]);
    }
  });

  it("needs logs:read", async () => {
    expect((await call(path, { body: { filters: { severityLevels: ["error"] } } })).status).toBe(401);
    const key = await keyWithScopes(owner, ["activity_log:read"]);
    expect((await simulate({ filters: { severityLevels: ["error"] } }, key)).status).toBe(403);
    const reader = await keyWithScopes(owner, ["logs:read"]);
    expect((await simulate({ filters: { severityLevels: ["error"] }, date_from: "-1h" }, reader)).status).toBe(200);
  });

  // Last in the file: these logs are recent and would join the other tests' counts.
  it("sees 25 errors sent two minutes ago in a 5-minute simulate over the last hour (buckets end at date_to)", async () => {
    const at = floorMinute(Date.now()) - 2 * MINUTE;
    const recent = Array.from({ length: 25 }, (_, i) => ({ ms: at + i * 1000, severityNumber: 17, severityText: "ERROR", body: "fresh" }));
    expect((await ingest(owner.apiToken, otlpPayload({ checkout: recent }))).status).toBe(200);
    const res = await simulate({ filters: { serviceNames: ["checkout"] }, threshold_count: 10, window_minutes: 5, date_from: "-1h" });
    expect(res.status).toBe(200);
    const last = res.body.buckets.at(-1);
    expect(last).toMatchObject({ count: 25, threshold_breached: true, state: "firing", notification: "firing" });
    expect(Date.now() - Date.parse(last.timestamp)).toBeLessThan(MINUTE);
    expect(res.body.fire_count).toBe(1);
  });
});
