import { listDurableObjectIds, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { checkAlertChunk } from "../../src/alerts/alert-checks.consumer";
import { floorMinute } from "../../src/alerts/alerts.queries";
import { commitRoutineChecks, decideInConsumer } from "../../src/alerts/check-writes";
import type { LogsAlertObject } from "../../src/alerts/logs-alert.object";
import { logsAlertCheckBatches } from "../../src/db/schema";
import { countingD1, type D1Trips } from "../../src/lib/d1-trips";
import { uuidv7 } from "../../src/lib/ids";
import { call, db, signupFirstUser, type Tenant } from "../helpers";
import { ingest, otlpPayload } from "../logs/otlp-fixtures";
import { alertObject, alertRow, alertsPath, createAlert, events, MINUTE, objectRows, runCheck, T0 } from "./alert-helpers";

let owner: Tenant;
/** The next minute boundary: a chunk of that window sees every alert created now as due, and the logs below in its window. */
let tick: number;

beforeAll(async () => {
  owner = await signupFirstUser();
  tick = floorMinute(Date.now()) + MINUTE;
  // Three error logs of the service "shortcut" a few seconds ago: inside the 5-minute window ending at `tick`.
  const now = Date.now();
  const records = Array.from({ length: 3 }, (_, i) => ({ ms: now - 2_000 - i, severityNumber: 17, severityText: "ERROR", body: `e${i}` }));
  expect((await ingest(owner.apiToken, otlpPayload({ shortcut: records }))).status).toBe(200);
});

const filters = { severityLevels: ["error"], serviceNames: ["shortcut"] };
const chunk = (windowEnd: number, alertIds: string[]) => ({ id: uuidv7(), windowEnd, alertIds, enqueuedAt: Date.now() });
/** Ids (as strings) of every alert object created in this file's storage. */
const objectIds = async () => (await listDurableObjectIds(env.LOGS_ALERTS)).map((id) => id.toString());
const objectIdOf = (alertId: string) => env.LOGS_ALERTS.idFromName(alertId).toString();

describe("checks decided in the consumer", () => {
  it("records checks that change nothing without the alert's object; a check that transitions goes to the object", async () => {
    const quiet = await createAlert(owner, { filters, threshold_count: 10 });
    const breaching = await createAlert(owner, { filters, threshold_count: 2 });
    // A 10-minute window still holds the logs at the next check: it stays firing.
    const sustained = await createAlert(owner, { filters, threshold_count: 2, window_minutes: 10 });
    const all = [quiet.id, breaching.id, sustained.id];

    const first = await checkAlertChunk(env, chunk(tick, all));
    expect(first).toMatchObject({ due: 3, checked: 3, decidedInConsumer: 1, failed: 0, notifications: 2 });
    const ids = await objectIds();
    expect(ids).not.toContain(objectIdOf(quiet.id));
    expect(ids).toContain(objectIdOf(breaching.id));
    expect(ids).toContain(objectIdOf(sustained.id));

    expect(await alertRow(quiet.id)).toMatchObject({
      state: "not_firing",
      lastCheckedAt: new Date(tick),
      nextCheckAt: new Date(tick + 5 * MINUTE),
      recentBreaches: 0,
      objectWindowEnd: null,
    });
    expect(await events(owner, quiet.id)).toEqual([
      expect.objectContaining({
        kind: "check",
        result_count: 3,
        threshold_breached: false,
        state_before: "not_firing",
        state_after: "not_firing",
        notification: null,
        window_end: new Date(tick).toISOString(),
      }),
    ]);
    expect(await alertRow(breaching.id)).toMatchObject({ state: "firing", recentBreaches: 1, objectWindowEnd: new Date(tick) });
    expect((await events(owner, breaching.id)).map((e) => [e.state_after, e.notification])).toEqual([["firing", "firing"]]);

    // A redelivered chunk finds them all checked; the quiet alert's object still does not exist.
    expect(await checkAlertChunk(env, chunk(tick, all))).toMatchObject({ due: 3, checked: 0, decidedInConsumer: 0 });
    expect(await objectIds()).not.toContain(objectIdOf(quiet.id));
    expect(await events(owner, quiet.id)).toHaveLength(1);

    // Five minutes later: the quiet alert and the one still firing are decided without their objects;
    // the 5-minute one (no logs in that window) resolves in its object.
    const next = await checkAlertChunk(env, chunk(tick + 5 * MINUTE, all));
    expect(next).toMatchObject({ checked: 3, decidedInConsumer: 2, notifications: 1 });
    expect(await objectIds()).not.toContain(objectIdOf(quiet.id));
    expect((await events(owner, breaching.id)).map((e) => e.notification)).toEqual(["resolved", "firing"]);
    expect(await objectRows(breaching.id, "SELECT last_window_end, recent_breaches FROM machine")).toEqual([
      { last_window_end: tick + 5 * MINUTE, recent_breaches: 0b10 },
    ]);
    expect(await alertRow(sustained.id)).toMatchObject({
      state: "firing",
      lastCheckedAt: new Date(tick + 5 * MINUTE),
      recentBreaches: 0b11,
    });
    expect((await events(owner, sustained.id)).map((e) => [e.result_count, e.state_before, e.state_after, e.notification])).toEqual([
      [3, "firing", "firing", null],
      [3, "not_firing", "firing", "firing"],
    ]);
    // Its object was not called for that check: it still stands at the first one.
    expect(await objectRows(sustained.id, "SELECT last_window_end FROM machine")).toEqual([{ last_window_end: tick }]);
  });

  it("leaves a check to the object when an earlier breach can still fire it (N of M with history)", async () => {
    const alert = await createAlert(owner, { threshold_count: 10, evaluation_periods: 3, datapoints_to_alarm: 1 });
    const at = (minutes: number) => T0 + minutes * MINUTE;
    expect(await runCheck(alert.id, at(5), 50)).toMatchObject({ state: "firing", notification: "firing" });
    expect(await runCheck(alert.id, at(10), 1)).toMatchObject({ state: "not_firing", notification: "resolved" });
    // not_firing, a count within the threshold, but the breach two checks back is still 1 of the last 3.
    const row = await alertRow(alert.id);
    expect(row).toMatchObject({ state: "not_firing", recentBreaches: 0b10 });
    expect(await decideInConsumer(row, { ok: true, count: 1 }, at(15), 1)).toBeNull();
    expect(await runCheck(alert.id, at(15), 1)).toMatchObject({ state: "firing", notification: "firing" });
    // From firing, the next check within the threshold resolves (an object transition); after it the breach is
    // four checks back, out of the last 3, and within-threshold checks are the consumer's again.
    expect(await runCheck(alert.id, at(20), 1)).toMatchObject({ state: "not_firing", notification: "resolved" });
    expect(await alertRow(alert.id)).toMatchObject({ recentBreaches: 0b1000 });
    expect(await decideInConsumer(await alertRow(alert.id), { ok: true, count: 1 }, at(25), 1)).not.toBeNull();
  });

  it("writes only over what it read: a person's transition, another check of the window or a repeat makes it a no-op", async () => {
    const alert = await createAlert(owner, { threshold_count: 10 });
    const at = (minutes: number) => T0 + minutes * MINUTE;
    const read = await alertRow(alert.id);
    const decided = await decideInConsumer(read, { ok: true, count: 1 }, at(5), 1);
    expect(decided).not.toBeNull();
    // A person's edit between the read and the write (new version): the check is dropped.
    await call(`${alertsPath(owner)}/${alert.id}/`, { key: owner.key, method: "PATCH", body: { threshold_count: 20 } });
    expect(await commitRoutineChecks(env, [decided!], [], at(5))).toEqual([false]);
    expect(await alertRow(alert.id)).toMatchObject({ lastCheckedAt: null, version: 2 });
    expect((await events(owner, alert.id)).map((e) => e.kind)).toEqual(["threshold_change"]);

    // Read again: it lands once; the same write again (a redelivered chunk) changes nothing.
    const again = (await decideInConsumer(await alertRow(alert.id), { ok: true, count: 1 }, at(5), 1))!;
    expect(await commitRoutineChecks(env, [again], [], at(5))).toEqual([true]);
    expect(await commitRoutineChecks(env, [again], [], at(5))).toEqual([false]);
    expect((await events(owner, alert.id)).map((e) => e.kind)).toEqual(["check", "threshold_change"]);

    // The object checked the next window first (a breach): the consumer's write of that window is dropped.
    const stale = (await decideInConsumer(await alertRow(alert.id), { ok: true, count: 1 }, at(10), 1))!;
    expect(await runCheck(alert.id, at(10), 50)).toMatchObject({ state: "firing", notification: "firing" });
    expect(await commitRoutineChecks(env, [stale], [], at(10))).toEqual([false]);
    expect(await alertRow(alert.id)).toMatchObject({ state: "firing", lastCheckedAt: new Date(at(10)) });
    expect((await events(owner, alert.id)).map((e) => [e.window_end, e.state_after, e.notification])[0]).toEqual([
      new Date(at(10)).toISOString(),
      "firing",
      "firing",
    ]);
  });

  it("keeps an alert with its object while the object holds a check D1 does not show, so its notification is not lost", async () => {
    const alert = await createAlert(owner, { filters, threshold_count: 10 });
    const before = await alertRow(alert.id);
    // A consumer marked the alert, its object fired on the window ending at `tick`, and the consumer died before committing.
    await commitRoutineChecks(env, [], [alert.id], tick);
    const lost = await runInDurableObject(alertObject(alert.id), (instance: LogsAlertObject) =>
      instance.check({ windowEnd: tick, alert: before, outcome: { ok: true, count: 99 }, queryDurationMs: 1 }),
    );
    expect(lost).toMatchObject({ status: "checked", state: "firing", notification: "firing" });
    const row = await alertRow(alert.id);
    expect(row).toMatchObject({ state: "not_firing", lastCheckedAt: null, objectWindowEnd: new Date(tick) });
    // The next window's count is within the threshold, but the mirror may be behind the object: not decided here.
    expect(await decideInConsumer(row, { ok: true, count: 0 }, tick + 5 * MINUTE, 1)).toBeNull();
    const next = await checkAlertChunk(env, chunk(tick + 5 * MINUTE, [alert.id]));
    // The object writes the lost firing check again with this one (which resolves), and both notifications go out.
    expect(next).toMatchObject({ checked: 1, decidedInConsumer: 0, notifications: 2 });
    expect((await events(owner, alert.id)).map((e) => [e.window_end, e.state_after, e.notification])).toEqual([
      [new Date(tick + 5 * MINUTE).toISOString(), "not_firing", "resolved"],
      [new Date(tick).toISOString(), "firing", "firing"],
    ]);
    // D1 shows the object's last check again: the following quiet check is the consumer's.
    expect(await checkAlertChunk(env, chunk(tick + 10 * MINUTE, [alert.id]))).toMatchObject({ checked: 1, decidedInConsumer: 1 });
  });

  it("makes four D1 round trips for a chunk with both kinds of checks, its record in the commit's batch", async () => {
    const quiet = await createAlert(owner, { filters, threshold_count: 10 });
    const breaching = await createAlert(owner, { filters, threshold_count: 2 });
    const trips: D1Trips = { count: 0, ms: 0 };
    const message = chunk(tick, [quiet.id, breaching.id]);
    const row = await checkAlertChunk({ ...env, DB: countingD1(env.DB, trips) }, message);
    // The re-read, the counts (one batch), the consumer's check with the object mark, the objects' commit with the record.
    expect(trips.count).toBe(4);
    expect(row).toMatchObject({ due: 2, checked: 2, skipped: 0, failed: 0, decidedInConsumer: 1, notifications: 1 });
    expect(row.finishedAt.getTime()).toBeGreaterThanOrEqual(row.startedAt.getTime());
    const [stored] = await db().select().from(logsAlertCheckBatches).where(eq(logsAlertCheckBatches.id, message.id));
    expect(stored).toEqual(row);
  });

  it("goes to the object while the mirror has no history (rows from before the shortcut), which then writes it", async () => {
    const alert = await createAlert(owner, { filters, threshold_count: 10 });
    await env.DB.prepare("UPDATE logs_alerts SET recent_breaches = NULL WHERE id = ?").bind(alert.id).run();
    expect(await checkAlertChunk(env, chunk(tick, [alert.id]))).toMatchObject({ checked: 1, decidedInConsumer: 0 });
    expect(await objectIds()).toContain(objectIdOf(alert.id));
    expect(await alertRow(alert.id)).toMatchObject({ recentBreaches: 0, lastCheckedAt: new Date(tick) });
    expect(await checkAlertChunk(env, chunk(tick + 5 * MINUTE, [alert.id]))).toMatchObject({ checked: 1, decidedInConsumer: 1 });
  });
});
