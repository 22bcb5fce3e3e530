import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { inArray } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import worker from "../../src";
import { floorMinute } from "../../src/alerts/alerts.queries";
import { evaluateDueAlerts } from "../../src/alerts/evaluation.job";
import { logsAlertCheckBatches, logsAlertEvents } from "../../src/db/schema";
import { call, db, signupFirstUser, type Tenant } from "../helpers";
import { ingest, otlpPayload } from "../logs/otlp-fixtures";
import { eventually, interceptFetch, stopDeliveries } from "../notifications/notify-helpers";
import { alertRow, alertsPath, createAlert, events, MINUTE } from "./alert-helpers";

let owner: Tenant;
let fetches: ReturnType<typeof interceptFetch>;
/** The next minute boundary: a tick there sees every alert created now as due. */
let tick: number;

beforeAll(async () => {
  fetches = interceptFetch(() => new Response("ok"));
  owner = await signupFirstUser();
  tick = floorMinute(Date.now()) + MINUTE;
  // Five errors and one info log a few seconds ago: inside the 5-minute window ending at `tick`.
  const now = Date.now();
  const records = [
    ...Array.from({ length: 5 }, (_, i) => ({ ms: now - 2_000 - i, severityNumber: 17, severityText: "ERROR", body: `boom ${i}` })),
    { ms: now - 1_000, body: "fine" },
  ];
  const res = await ingest(owner.apiToken, otlpPayload({ checkout: records }));
  expect(res.status).toBe(200);
});
afterAll(async () => {
  await stopDeliveries();
  fetches.restore();
});

/** The chunks' rows once the queue consumer has checked every one of them. */
async function checkedChunks(ids: string[]) {
  if (!ids.length) return [];
  return eventually(async () => {
    const rows = await db().select().from(logsAlertCheckBatches).where(inArray(logsAlertCheckBatches.id, ids));
    return rows.length === ids.length && rows;
  });
}

/** One tick of the alert job, as the cron runs it, once its queued chunks are done. */
async function tickAndWait(scheduledTime: number) {
  const messages = await evaluateDueAlerts(env, scheduledTime);
  const rows = await checkedChunks(messages.map((m) => m.id));
  const sum = (field: "due" | "checked" | "failed" | "notifications") => rows.reduce((n, r) => n + r[field], 0);
  return { chunks: messages.length, due: sum("due"), checked: sum("checked"), failed: sum("failed"), notifications: sum("notifications") };
}

/** The Worker's scheduled handler, all its jobs included. */
const runScheduledHandler = async (scheduledTime: number) => {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime, cron: "* * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
};

// Chunks go through the real queue, whose consumer runs about a second after a send.
describe("cron evaluation of logs alerts", { timeout: 30_000 }, () => {
  it("counts stored logs, fires once and notifies once when the same tick runs twice at the same time", async () => {
    const alert = await createAlert(owner, {
      name: "Checkout errors",
      threshold_count: 3,
      filters: { severityLevels: ["error"], serviceNames: ["checkout"] },
    });
    const hook = await call(`${alertsPath(owner)}/${alert.id}/destinations/`, {
      key: owner.key,
      body: { type: "webhook", webhook_url: "https://hooks.receiver.invalid/alerts" },
    });
    // Two overlapping runs of the same tick queue the alert twice; the scheduled handler runs it a third time.
    const [a, b] = await Promise.all([evaluateDueAlerts(env, tick), evaluateDueAlerts(env, tick)]);
    const rows = await checkedChunks([...a, ...b].map((m) => m.id));
    expect(rows.reduce((n, r) => n + r.checked, 0)).toBe(1);
    expect(rows.reduce((n, r) => n + r.failed, 0)).toBe(0);
    await runScheduledHandler(tick);
    const history = await events(owner, alert.id);
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({
      kind: "check",
      result_count: 5,
      threshold_breached: true,
      state_after: "firing",
      notification: "firing",
    });
    expect(await alertRow(alert.id)).toMatchObject({
      state: "firing",
      lastCheckedAt: new Date(tick),
      nextCheckAt: new Date(tick + 5 * MINUTE),
    });

    const received = await eventually(async () => fetches.received.filter((r) => r.url.endsWith("/alerts")).at(0));
    const payload = new Webhook(hook.body.secret).verify(received.body, Object.fromEntries(received.headers)) as any;
    expect(payload).toMatchObject({
      type: "logs_alert_firing",
      data: {
        alert: { id: alert.id, name: "Checkout errors" },
        state: "firing",
        previous_state: "not_firing",
        result_count: 5,
        threshold_count: 3,
        threshold_operator: "above",
        window_minutes: 5,
        window_end: new Date(tick).toISOString(),
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(fetches.received.filter((r) => r.url.endsWith("/alerts"))).toHaveLength(1);
  });

  it("catches up a skipped minute by evaluating the current window once", async () => {
    const alert = await createAlert(owner, { window_minutes: 1, threshold_count: 100 });
    await tickAndWait(tick + 2 * MINUTE);
    // tick + 3 minutes never ran; the late tick 4 minutes on evaluates one window, not two.
    const late = tick + 4 * MINUTE + 25_000;
    await tickAndWait(late);
    await tickAndWait(late);
    expect((await events(owner, alert.id)).map((e) => e.window_end)).toEqual([
      new Date(tick + 4 * MINUTE).toISOString(),
      new Date(tick + 2 * MINUTE).toISOString(),
    ]);
    expect((await alertRow(alert.id)).nextCheckAt?.getTime()).toBe(tick + 5 * MINUTE);
  });

  it("skips disabled alerts and hands every due alert its window through the queue", async () => {
    const project = await call("/api/projects/", { key: owner.key, body: { name: "Many alerts" } });
    const many = { ...owner, projectId: project.body.id };
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await createAlert(many, { name: `a${i}`, enabled: i % 4 !== 0 })).id);
    const later = tick + 30 * MINUTE;
    const summary = await tickAndWait(later);
    expect(summary.failed).toBe(0);
    expect(summary.checked).toBe(summary.due);
    const checked = await Promise.all(ids.map(async (id) => (await alertRow(id)).lastCheckedAt?.getTime() ?? null));
    expect(checked).toEqual(ids.map((_, i) => (i % 4 === 0 ? null : later)));
    expect(await tickAndWait(later)).toMatchObject({ chunks: 0, due: 0 });
  });

  it("counts record and regex filters through the logs layer in shared batches, and isolates a failing count", async () => {
    const contains = await createAlert(owner, {
      window_minutes: 15,
      threshold_count: 4,
      filters: { filterGroup: [{ key: "message", type: "log", operator: "icontains", value: "boom" }] },
    });
    const regex = await createAlert(owner, {
      window_minutes: 15,
      threshold_count: 4,
      filters: { severityLevels: ["error"], filterGroup: [{ key: "message", type: "log", operator: "regex", value: "^boom [0-3]$" }] },
    });
    const corrupt = await createAlert(owner, { window_minutes: 15 });
    await env.DB.prepare("UPDATE logs_alerts SET filters = ? WHERE id = ?")
      .bind(JSON.stringify({ filterGroup: [{ key: "nope", type: "log", operator: "exact", value: "x" }] }), corrupt.id)
      .run();
    const at = tick + 10 * MINUTE;
    const summary = await tickAndWait(at);
    expect(summary.failed).toBe(0);
    const first = async (id: string) => (await events(owner, id))[0];
    expect(await first(contains.id)).toMatchObject({ result_count: 5, state_after: "firing", window_end: new Date(at).toISOString() });
    expect(await first(regex.id)).toMatchObject({ result_count: 4, state_after: "not_firing" });
    expect(await first(corrupt.id)).toMatchObject({ result_count: null, state_after: "errored", notification: "errored" });
    expect((await first(corrupt.id))?.error_message).toContain("nope");
  });

  it("prunes chunk rows after a week and events after 90 days, keeping newer ones", async () => {
    const day = 24 * 60 * 60 * 1000;
    const at = floorMinute(Date.now()) + 30 * MINUTE;
    const chunk = (id: string, windowEnd: number) => ({
      id,
      windowEnd: new Date(windowEnd),
      due: 0,
      checked: 0,
      skipped: 0,
      failed: 0,
      notifications: 0,
      enqueuedAt: new Date(windowEnd),
      startedAt: new Date(windowEnd),
      finishedAt: new Date(windowEnd),
    });
    await db()
      .insert(logsAlertCheckBatches)
      .values([chunk("old-chunk", at - 8 * day), chunk("recent-chunk", at - 6 * day)]);
    const alert = await createAlert(owner, { name: "pruned history", enabled: false });
    const event = (id: string, createdAt: number) => ({
      id,
      alertId: alert.id,
      kind: "check",
      stateBefore: "not_firing" as const,
      stateAfter: "not_firing" as const,
      createdAt: new Date(createdAt),
    });
    await db()
      .insert(logsAlertEvents)
      .values([event("old-event", at - 91 * day), event("recent-event", at - 89 * day)]);
    await evaluateDueAlerts(env, at);
    const events = await db()
      .select({ id: logsAlertEvents.id })
      .from(logsAlertEvents)
      .where(inArray(logsAlertEvents.id, ["old-event", "recent-event"]));
    expect(events.map((r) => r.id)).toEqual(["recent-event"]);
    const left = await db()
      .select({ id: logsAlertCheckBatches.id })
      .from(logsAlertCheckBatches)
      .where(inArray(logsAlertCheckBatches.id, ["old-chunk", "recent-chunk"]));
    expect(left.map((r) => r.id)).toEqual(["recent-chunk"]);
  });

  it("finds due alerts through the next_check_at index", async () => {
    const plan = await env.DB.prepare(
      "EXPLAIN QUERY PLAN SELECT * FROM logs_alerts WHERE next_check_at <= ? AND enabled = 1 AND (next_check_at, id) > (?, ?) ORDER BY next_check_at, id LIMIT 500",
    )
      .bind(tick, 0, "")
      .all<{ detail: string }>();
    expect(plan.results.map((r) => r.detail).join(" ")).toContain("USING INDEX logs_alerts_due");
  });
});
