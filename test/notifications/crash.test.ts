import { env } from "cloudflare:workers";
import { and, eq, gte, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { activityLog, notificationDeliveries, notificationOutbox } from "../../src/db/schema";
import { sweepNotificationOutbox } from "../../src/events/outbox-sweep.job";
import type { NotificationMessage } from "../../src/lib/messages";
import { DELIVERY_SWEEP_GRACE_MS } from "../../src/notifications/delivery";
import { sweepDeliveries } from "../../src/notifications/delivery-sweep.job";
import { alertsPath, createAlert, MINUTE, runCheck, T0 } from "../alerts/alert-helpers";
import { createPolicy, decide } from "../approvals/approvals-helpers";
import { addMember, call, db, signupFirstUser, type Tenant } from "../helpers";
import { captureQueue, consume, createDestination, eventually, interceptFetch, type Received } from "./notify-helpers";

// "Nothing lost across a crash, whatever the queue keeps." The queue here is a list the test owns:
// it loses every message the write path sends, half of the fan-out's delivery messages, and the
// consumer of the other half dies after sending (before D1 records the attempt, its retries lost
// with it). The cron sweeps alone then get every event to every receiver, and a receiver that
// drops copies by `webhook-id` sees each event exactly once.
let owner: Tenant;
let approver: Tenant;
let queue: ReturnType<typeof captureQueue>;
let fetches: ReturnType<typeof interceptFetch>;
let started: Date;

const EVENTS = [
  "activity_log_entry_created",
  "logs_alert_firing",
  "change_request_created",
  "change_request_approved",
  "change_request_applied",
] as const;

beforeAll(async () => {
  owner = await signupFirstUser();
  approver = await addMember(owner, 8);
  await createPolicy(owner, { action_key: "logs_alert.update", approver_config: { users: [approver.userId], quorum: 1 } });
  queue = captureQueue();
  fetches = interceptFetch(() => new Response("ok"));
  // Nobody listened so far: the publishers cleared those commits' outbox rows.
  await eventually(async () => (await db().select().from(notificationOutbox)).length === 0);
  // From here on every activity row of the organization reaches both receivers (their own creation included).
  started = new Date();
  for (const path of ["/a", "/b"]) {
    await createDestination(owner, {
      url: `https://hooks.receiver.invalid${path}`,
      events: [...EVENTS],
      include_organization_activity: true,
    });
  }
});

afterAll(() => {
  queue.restore();
  fetches.restore();
});

/** What an event is to a receiver, whatever delivery carried it. */
function eventKey(request: Received): string {
  const { type, data } = JSON.parse(request.body);
  if (type === "activity_log_entry_created") return `${type}:${data.id}`;
  if (type === "logs_alert_firing") return `${type}:${data.alert.id}:${data.window_end}`;
  return `${type}:${data.change_request.id}`;
}

const deliveryMessages = (messages: NotificationMessage[]) => messages.filter((m) => m.kind === "delivery");

describe("nothing lost across a crash", { timeout: 60_000 }, () => {
  it("delivers every event once per webhook-id after the sweeps, with the queue losing messages and a consumer dying after sending", async () => {
    const alert = await createAlert(owner, { threshold_count: 10 });

    // The causes: app activity, a project change, an alert firing, a gated change approved and applied.
    const ingest = await call(`/api/projects/${owner.projectId}/activity_log/`, {
      key: owner.key,
      body: { entries: [1, 2, 3, 4, 5].map((n) => ({ scope: "Invoice", activity: "updated", item_id: `inv-${n}` })) },
    });
    expect(ingest.status).toBe(201);
    await call(`/api/projects/${owner.projectId}/`, { key: owner.key, method: "PATCH", body: { name: "Crashy" } });
    expect(await runCheck(alert.id, T0 + 5 * MINUTE, 500)).toMatchObject({ notification: "firing", published: 1 });
    const gated = await call(`${alertsPath(owner)}/${alert.id}/`, { key: owner.key, method: "PATCH", body: { threshold_count: 99 } });
    const changeRequestId = gated.body.change_request_id;
    expect((await decide(approver, changeRequestId, "approve")).body.status).toBe("applied");

    // Crash 1: every event the write path sent is lost (the Worker died after its commits).
    await eventually(async () =>
      queue.queued.some((m) => m.kind === "event" && m.event.id === `${changeRequestId}:change_request_applied`),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    queue.take();
    expect(fetches.received).toHaveLength(0);

    // The outbox sweep republishes them; the fan-out records their deliveries and clears the outbox.
    let now = Date.now() + 61_000;
    expect(await sweepNotificationOutbox(env, now)).toBeGreaterThanOrEqual(4);
    await consume(queue.take());
    expect(await db().select().from(notificationOutbox)).toEqual([]);

    // Crash 2: half of the delivery messages are lost; the consumer of the other half dies after
    // sending, before recording (its retries die with it).
    const deliveries = deliveryMessages(queue.take());
    expect(deliveries.length).toBeGreaterThanOrEqual(2 * 12);
    const batch = vi.spyOn(env.DB, "batch").mockRejectedValueOnce(new Error("the isolate died"));
    await consume(deliveries.filter((_, i) => i % 2 === 0));
    batch.mockRestore();
    queue.take();
    const sentBeforeRecovery = fetches.received.length;
    expect(sentBeforeRecovery).toBe(Math.ceil(deliveries.length / 2));
    const pending = await db().select().from(notificationDeliveries).where(eq(notificationDeliveries.status, "pending"));
    expect(pending).toHaveLength(deliveries.length);

    // Recovery is the cron's: sweeps until nothing is left unsettled.
    for (let tick = 0; tick < 10; tick++) {
      now += DELIVERY_SWEEP_GRACE_MS + MINUTE;
      await sweepNotificationOutbox(env, now);
      await sweepDeliveries(env, now);
      const messages = queue.take();
      if (!messages.length) break;
      await consume(messages);
    }

    const rows = await db().select().from(notificationDeliveries);
    expect(rows.filter((d) => d.status !== "succeeded")).toEqual([]);
    expect(await db().select().from(notificationOutbox)).toEqual([]);

    // Every event of the test, to both receivers.
    const activity = await db()
      .select({ id: activityLog.id })
      .from(activityLog)
      .where(and(eq(activityLog.organizationId, owner.organizationId), gte(activityLog.createdAt, started)));
    const expected = [
      ...activity.map((a) => `activity_log_entry_created:${a.id}`),
      `logs_alert_firing:${alert.id}:${new Date(T0 + 5 * MINUTE).toISOString()}`,
      ...["created", "approved", "applied"].map((step) => `change_request_${step}:${changeRequestId}`),
    ].sort();
    expect(activity.length).toBeGreaterThanOrEqual(9);
    for (const path of ["/a", "/b"]) {
      const inbox = fetches.received.filter((r) => new URL(r.url).pathname === path);
      // The receiver drops copies by webhook-id...
      const byWebhookId = new Map<string, Received[]>();
      for (const request of inbox) {
        const id = request.headers.get("webhook-id")!;
        byWebhookId.set(id, [...(byWebhookId.get(id) ?? []), request]);
      }
      // ...and is then left with each event exactly once: a copy is always the same delivery, byte for byte.
      const kept = [...byWebhookId.values()].map((copies) => {
        expect(new Set(copies.map((c) => c.body)).size).toBe(1);
        return eventKey(copies[0]!);
      });
      expect(kept.sort()).toEqual(expected);
    }
    // Copies did reach the receivers (the consumer that died had sent), all under known webhook-ids.
    expect(fetches.received.length).toBeGreaterThan(rows.length);
    const ids = new Set(rows.map((d) => d.id));
    expect(fetches.received.every((r) => ids.has(r.headers.get("webhook-id")!))).toBe(true);
    const recorded = await db()
      .select({ attemptCount: notificationDeliveries.attemptCount })
      .from(notificationDeliveries)
      .where(inArray(notificationDeliveries.id, [...ids]));
    expect(recorded.every((d) => d.attemptCount === 1)).toBe(true);
  });
});
