import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { LogsAlertObject } from "../../src/alerts/logs-alert.object";
import { activityRows, call, signupFirstUser, type Tenant } from "../helpers";
import { alertObject, alertRow, alertsPath, createAlert, events, MINUTE, objectRows, runCheck, T0 } from "./alert-helpers";

let owner: Tenant;
beforeAll(async () => {
  owner = await signupFirstUser();
});

const at = (minutes: number) => T0 + minutes * MINUTE;
const timeout = new Error("D1_ERROR: query timed out");

/** Runs `counts` as checks one interval apart from T0; returns [state, notification] after each. */
async function drive(id: string, counts: (number | Error)[], step = 5, from = 0) {
  const out: [string, string | null][] = [];
  for (const [i, count] of counts.entries()) {
    const result = await runCheck(id, at(from + i * step), count);
    if (result.status !== "checked") throw new Error(`check ${i} was ${result.status}`);
    out.push([result.state, result.notification]);
  }
  return out;
}

describe("logs alert Durable Object", () => {
  it("fires on N of the last M windows with gaps, notifies, and resolves on the first OK check", async () => {
    const alert = await createAlert(owner, { threshold_count: 10, evaluation_periods: 3, datapoints_to_alarm: 2 });
    expect(await drive(alert.id, [20, 1, 1, 20, 1, 20, 30, 2])).toEqual([
      ["not_firing", null],
      ["not_firing", null],
      ["not_firing", null],
      ["not_firing", null], // the first breach slid out of the last 3
      ["not_firing", null],
      ["firing", "firing"], // 20, 1, 20: 2 of 3
      ["firing", null],
      ["not_firing", "resolved"],
    ]);
    const row = await alertRow(alert.id);
    expect(row).toMatchObject({ state: "not_firing", consecutiveFailures: 0, lastErrorMessage: null });
    expect(row.lastCheckedAt?.getTime()).toBe(at(35));
    expect(row.lastNotifiedAt?.getTime()).toBe(at(35));
    expect(row.nextCheckAt?.getTime()).toBe(at(40));
    const history = await events(owner, alert.id);
    const fired = history.find((e) => e.notification === "firing");
    expect(fired).toMatchObject({
      kind: "check",
      result_count: 20,
      threshold_breached: true,
      state_before: "not_firing",
      state_after: "firing",
      error_message: null,
      window_start: new Date(at(20)).toISOString(),
      window_end: new Date(at(25)).toISOString(),
    });
    expect(fired?.query_duration_ms).toEqual(expect.any(Number));
    expect(await objectRows(alert.id, "SELECT window_end, count FROM checks ORDER BY window_end DESC LIMIT 2")).toEqual([
      { window_end: at(35), count: 2 },
      { window_end: at(30), count: 30 },
    ]);
    expect((await activityRows({ scope: "LogsAlertConfiguration" })).filter((r) => r.item_id === alert.id).map((r) => r.activity)).toEqual([
      "created",
    ]);
  });

  it("fires on any log with threshold 0, and below-thresholds fire on silence", async () => {
    const any = await createAlert(owner, { threshold_count: 0 });
    expect(await drive(any.id, [0, 1])).toEqual([
      ["not_firing", null],
      ["firing", "firing"],
    ]);
    const silence = await createAlert(owner, { threshold_count: 1, threshold_operator: "below" });
    expect(await drive(silence.id, [4, 0, 1])).toEqual([
      ["not_firing", null],
      ["firing", "firing"],
      ["not_firing", "resolved"],
    ]);
  });

  it("drops notifications inside the cooldown but still transitions", async () => {
    const alert = await createAlert(owner, { threshold_count: 10, cooldown_minutes: 10, window_minutes: 1 });
    expect(await drive(alert.id, [50, 1, 50, 1, 1, 1, 1, 1, 1, 1, 1, 50], 1)).toEqual([
      ["firing", "firing"],
      ["not_firing", null],
      ["firing", null],
      ...Array.from({ length: 8 }, () => ["not_firing", null]),
      ["firing", "firing"], // 11 minutes after the last notification
    ]);
    const suppressed = (await events(owner, alert.id)).filter((e) => e.state_before !== e.state_after && e.notification === null);
    expect(suppressed).toHaveLength(3);
  });

  it("stays snoozed until snooze_until, then evaluates as not_firing", async () => {
    const alert = await createAlert(owner, { threshold_count: 10 });
    const until = at(10) + 30_000;
    await call(`${alertsPath(owner)}/${alert.id}/`, {
      key: owner.key,
      method: "PATCH",
      body: { snooze_until: new Date(until).toISOString() },
    });
    expect(await runCheck(alert.id, at(5), 99)).toEqual({ status: "skipped", reason: "snoozed" });
    expect((await alertRow(alert.id)).nextCheckAt?.getTime()).toBe(at(11));
    expect(await runCheck(alert.id, at(11), 99)).toMatchObject({ status: "checked", state: "firing", notification: "firing" });
    expect((await events(owner, alert.id)).map((e) => [e.kind, e.state_before, e.state_after])).toEqual([
      ["check", "snoozed", "firing"],
      ["snooze", "not_firing", "snoozed"],
    ]);
  });

  it("errors (notifying once), breaks after 5 consecutive failures, and waits for a reset", async () => {
    const alert = await createAlert(owner, { threshold_count: 10 });
    expect(await drive(alert.id, [timeout, timeout, 3, timeout, timeout, timeout, timeout, timeout])).toEqual([
      ["errored", "errored"],
      ["errored", null],
      ["not_firing", null], // a success clears the failures
      ["errored", "errored"],
      ["errored", null],
      ["errored", null],
      ["errored", null],
      ["broken", "broken"],
    ]);
    const broken = await alertRow(alert.id);
    expect(broken).toMatchObject({ state: "broken", consecutiveFailures: 5, nextCheckAt: null, lastErrorMessage: timeout.message });
    const brokenEvent = (await events(owner, alert.id))[0];
    expect(brokenEvent).toMatchObject({
      kind: "check",
      state_after: "broken",
      notification: "broken",
      error_message: timeout.message,
      result_count: null,
    });
    expect(await runCheck(alert.id, at(45), 99)).toEqual({ status: "skipped", reason: "broken" });

    const reset = await call(`${alertsPath(owner)}/${alert.id}/reset/`, { key: owner.key, method: "POST" });
    expect(reset.body).toMatchObject({ state: "not_firing", consecutive_failures: 0, last_error_message: null });
    expect(reset.body.next_check_at).not.toBeNull();
    const [activity] = (await activityRows({ scope: "LogsAlertConfiguration", activity: "reset" })).filter((r) => r.item_id === alert.id);
    expect(activity?.detail.changes).toEqual([expect.objectContaining({ field: "state", before: "broken", after: "not_firing" })]);
    expect(await runCheck(alert.id, at(50), 99)).toMatchObject({ status: "checked", state: "firing", notification: "firing" });
  });

  it("evaluates a window once: a repeated or older window is a duplicate", async () => {
    const alert = await createAlert(owner, { threshold_count: 10 });
    expect(await runCheck(alert.id, at(5), 50)).toMatchObject({ status: "checked", notification: "firing" });
    expect(await runCheck(alert.id, at(5), 50)).toEqual({ status: "duplicate" });
    expect(await runCheck(alert.id, at(4), 1)).toEqual({ status: "duplicate" });
    expect(await events(owner, alert.id)).toHaveLength(1);
  });

  it("discards a check raced by a person's transition, then starts over from the new version", async () => {
    const alert = await createAlert(owner, { threshold_count: 10 });
    await runCheck(alert.id, at(5), 50);
    const readByCron = await alertRow(alert.id);
    await call(`${alertsPath(owner)}/${alert.id}/`, { key: owner.key, method: "PATCH", body: { threshold_count: 100 } });
    expect(await runCheck(alert.id, at(10), 1, readByCron)).toEqual({ status: "stale" });
    expect((await alertRow(alert.id)).state).toBe("not_firing");
    // The history of the old rules is gone: one breach of the new threshold is what counts.
    expect(await runCheck(alert.id, at(15), 150)).toMatchObject({ status: "checked", state: "firing", notification: "firing" });
    expect((await events(owner, alert.id)).map((e) => e.kind)).toEqual(["check", "threshold_change", "check"]);
  });

  it("writes nothing for an alert deleted while its check ran, and its alarm publishes nothing", async () => {
    const alert = await createAlert(owner);
    const readByCron = await alertRow(alert.id);
    await call(`${alertsPath(owner)}/${alert.id}/`, { key: owner.key, method: "DELETE" });
    expect(await runCheck(alert.id, at(5), 500, readByCron)).toEqual({ status: "stale" });
    expect(await runDurableObjectAlarm(alertObject(alert.id))).toBe(true);
    expect(await objectRows(alert.id, "SELECT count(*) AS n FROM unconfirmed")).toEqual([{ n: 0 }]);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM logs_alert_events WHERE alert_id = ?").bind(alert.id).first()).toEqual({ n: 0 });
  });

  it("writes a check again with the next one when its commit never landed", async () => {
    const alert = await createAlert(owner, { threshold_count: 10 });
    const snapshot = await alertRow(alert.id);
    const first = await runInDurableObject(alertObject(alert.id), (instance: LogsAlertObject) =>
      instance.check({ windowEnd: at(5), alert: snapshot, outcome: { ok: true, count: 50 }, queryDurationMs: 1 }),
    );
    expect(first).toMatchObject({ status: "checked", state: "firing", notification: "firing" });
    // The cron died before committing: D1 knows nothing of that check, the object does.
    expect(await runCheck(alert.id, at(5), 50)).toEqual({ status: "duplicate" });
    expect(await runCheck(alert.id, at(10), 60)).toMatchObject({ status: "checked", state: "firing", notification: null, published: 1 });
    expect((await events(owner, alert.id)).map((e) => [e.window_end, e.state_after, e.notification])).toEqual([
      [new Date(at(10)).toISOString(), "firing", null],
      [new Date(at(5)).toISOString(), "firing", "firing"],
    ]);
    expect(await alertRow(alert.id)).toMatchObject({ state: "firing", lastCheckedAt: new Date(at(10)) });
  });

  it("lets the alarm commit and publish a notifying check nobody confirmed", async () => {
    const alert = await createAlert(owner, { threshold_count: 10 });
    const snapshot = await alertRow(alert.id);
    await runInDurableObject(alertObject(alert.id), (instance: LogsAlertObject) =>
      instance.check({ windowEnd: at(5), alert: snapshot, outcome: { ok: true, count: 50 }, queryDurationMs: 1 }),
    );
    expect(await runDurableObjectAlarm(alertObject(alert.id))).toBe(true);
    expect(await alertRow(alert.id)).toMatchObject({ state: "firing", lastCheckedAt: new Date(at(5)) });
    expect((await events(owner, alert.id)).map((e) => e.notification)).toEqual(["firing"]);
    expect(await objectRows(alert.id, "SELECT count(*) AS n FROM unconfirmed")).toEqual([{ n: 0 }]);
  });

  it("keeps only the latest ten routine checks in the events history", async () => {
    const alert = await createAlert(owner, { threshold_count: 10, window_minutes: 1 });
    await drive(alert.id, [...Array.from({ length: 14 }, () => 1), 50, ...Array.from({ length: 3 }, () => 50)], 1);
    const history = await events(owner, alert.id);
    expect(history.filter((e) => e.state_before === e.state_after && !e.notification)).toHaveLength(10);
    expect(history.find((e) => e.notification === "firing")).toBeDefined();
    expect(history).toHaveLength(11);
    expect(await objectRows(alert.id, "SELECT count(*) AS n FROM checks")).toEqual([{ n: 10 }]);
  });
});
