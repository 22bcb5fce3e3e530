import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { evaluate } from "../../src/alerts/alert.machine";
import { machineOf, rulesOf } from "../../src/alerts/alerts.queries";
import { type CheckWrite, checkWrite, commitChecks } from "../../src/alerts/check-writes";
import type { NotificationMessage } from "../../src/lib/messages";
import { signupFirstUser, type Tenant } from "../helpers";
import { captureQueue } from "../notifications/notify-helpers";
import { alertRow, createAlert, MINUTE, T0 } from "./alert-helpers";

let owner: Tenant;
beforeAll(async () => {
  owner = await signupFirstUser();
});

/** The check of `windowEnd` decided from the D1 row as it is now, with `count` (two writers may count differently: late logs). */
async function decide(id: string, windowEnd: number, count: number): Promise<CheckWrite> {
  const alert = await alertRow(id);
  const before = machineOf(alert);
  const outcome = { ok: true as const, count };
  const result = evaluate(rulesOf(alert), before, outcome, windowEnd);
  return checkWrite({ alert, version: alert.version, windowEnd, before, result, outcome, queryDurationMs: 1, createdAt: windowEnd });
}

/** Commits `writes` with the notifications queue stubbed; returns the commit's answer and what was enqueued. */
async function commitCapturing(writes: CheckWrite[]) {
  const queue = captureQueue();
  try {
    return { ...(await commitChecks(env, writes)), sent: queue.take() };
  } finally {
    queue.restore();
  }
}

/** The notification events of the alert in the outbox. */
async function outboxed(alertId: string) {
  const { results } = await env.DB.prepare(
    "SELECT e.value ->> 'type' AS type, e.value ->> 'occurredAt' AS at FROM notification_outbox AS o, json_each(o.events) AS e WHERE e.value ->> 'alertId' = ?",
  )
    .bind(alertId)
    .all<{ type: string; at: string }>();
  return results;
}

const sentTypes = (sent: NotificationMessage[]) => sent.map((m) => (m.kind === "event" ? m.event.type : m.kind));

describe("committing checks", () => {
  it("enqueues only the notification of the write that landed when two writers decide one window differently", async () => {
    const alert = await createAlert(owner, { threshold_count: 10 });
    const window = T0 + 5 * MINUTE;
    // Both writers read the same row; one counted 3 logs, the other (after late logs) 50.
    const quiet = await decide(alert.id, window, 3);
    const firing = await decide(alert.id, window, 50);
    expect(firing.publish?.type).toBe("logs_alert_firing");

    const first = await commitCapturing([quiet]);
    expect(first).toMatchObject({ applied: [true], published: 0, sent: [] });
    const second = await commitCapturing([firing]);
    expect(second).toMatchObject({ applied: [false], published: 0, sent: [] });
    expect(await outboxed(alert.id)).toEqual([]);
    expect(await alertRow(alert.id)).toMatchObject({ state: "not_firing", lastCheckedAt: new Date(window) });
  });

  it("the winner's notification goes out when the notifying write lands first", async () => {
    const alert = await createAlert(owner, { threshold_count: 10 });
    const window = T0 + 5 * MINUTE;
    const firing = await decide(alert.id, window, 50);
    const quiet = await decide(alert.id, window, 3);

    const first = await commitCapturing([firing]);
    expect(first).toMatchObject({ applied: [true], published: 1 });
    expect(sentTypes(first.sent)).toEqual(["logs_alert_firing"]);
    expect(await commitCapturing([quiet])).toMatchObject({ applied: [false], published: 0, sent: [] });
    expect(await outboxed(alert.id)).toEqual([{ type: "logs_alert_firing", at: new Date(window).toISOString() }]);
    expect(await alertRow(alert.id)).toMatchObject({ state: "firing", lastCheckedAt: new Date(window) });
  });

  it("judges each of two windows of one alert in a batch on its own: a replay another writer beat stays silent, the next window notifies", async () => {
    const alert = await createAlert(owner, { threshold_count: 10 });
    const first = T0 + 5 * MINUTE;
    const second = T0 + 10 * MINUTE;
    // Another writer recorded the first window as quiet; an object that counted it breached replays
    // its own decision of that window (firing) with its check of the next one, which resolves.
    const lostReplay = await decide(alert.id, first, 50);
    expect(await commitCapturing([await decide(alert.id, first, 3)])).toMatchObject({ applied: [true], published: 0 });
    const firingRow = { ...(await alertRow(alert.id)), state: "firing" as const };
    const resolved = await checkWrite({
      alert: firingRow,
      version: firingRow.version,
      windowEnd: second,
      before: machineOf(firingRow),
      result: evaluate(rulesOf(firingRow), machineOf(firingRow), { ok: true, count: 1 }, second),
      outcome: { ok: true, count: 1 },
      queryDurationMs: 1,
      createdAt: second,
    });
    expect(resolved.publish?.type).toBe("logs_alert_resolved");

    const both = await commitCapturing([lostReplay, resolved]);
    expect(both).toMatchObject({ applied: [false, true], published: 1 });
    expect(sentTypes(both.sent)).toEqual(["logs_alert_resolved"]);
    expect(await outboxed(alert.id)).toEqual([{ type: "logs_alert_resolved", at: new Date(second).toISOString() }]);
    expect(await alertRow(alert.id)).toMatchObject({ lastCheckedAt: new Date(second) });
  });
});
