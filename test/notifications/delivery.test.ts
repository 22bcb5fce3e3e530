import { eq } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  notificationDeliveries,
  notificationDeliveryAttempts,
  notificationDestinations,
  notificationSubscriptions,
} from "../../src/db/schema";
import { backoffSeconds, MAX_ATTEMPTS, RETRY_SCHEDULE_SECONDS, retryAfterSeconds } from "../../src/notifications/delivery";
import { postJson } from "../../src/notifications/http";
import { QUEUE_NAMES } from "../../src/queues";
import { activityRows, call, db, signupFirstUser, type Tenant } from "../helpers";
import {
  createDestination,
  deliver,
  deliveryRow,
  destinationRow,
  eventually,
  insertDelivery,
  interceptFetch,
  projectDestinations,
  runQueue,
} from "./notify-helpers";

let owner: Tenant;
let fetches: ReturnType<typeof interceptFetch>;

beforeAll(async () => {
  owner = await signupFirstUser();
});

afterEach(() => fetches?.restore());

const quiet = { events: ["change_request_created"] };

async function attemptsOf(deliveryId: string) {
  return db()
    .select()
    .from(notificationDeliveryAttempts)
    .where(eq(notificationDeliveryAttempts.deliveryId, deliveryId))
    .orderBy(notificationDeliveryAttempts.attempt);
}

describe("webhook delivery", () => {
  it("posts the stored body signed per Standard Webhooks, with the delivery id as webhook-id", async () => {
    fetches = interceptFetch(() => new Response("ok"));
    const destination = await createDestination(owner, quiet);
    const id = await insertDelivery(destination.id, "webhook", { change_request: { id: "cr-1", intent_display: "Delete project" } });
    const result = await deliver(id);
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toEqual([]);

    const request = fetches.received[0]!;
    expect(request.headers.get("webhook-id")).toBe(id);
    expect(Math.abs(Number(request.headers.get("webhook-timestamp")) - Date.now() / 1000)).toBeLessThan(5);
    expect(request.headers.get("webhook-signature")).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(request.headers.get("content-type")).toBe("application/json");
    const verified = new Webhook(destination.secret).verify(request.body, Object.fromEntries(request.headers)) as any;
    expect(verified).toMatchObject({ type: "change_request_created", data: { change_request: { id: "cr-1" } } });
    expect(Date.parse(verified.timestamp)).not.toBeNaN();

    const row = await deliveryRow(id);
    expect(row).toMatchObject({ status: "succeeded", attemptCount: 1, lastResponseCode: 200, lastError: null, nextRetryAt: null });
    const attempts = await attemptsOf(id);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ attempt: 1, status: "succeeded", responseCode: 200, responseBody: "ok" });
    expect((await destinationRow(destination.id)).lastSuccessAt).not.toBeNull();
  });

  it("retries a 500 with a growing delay and records every attempt", async () => {
    fetches = interceptFetch(() => new Response("boom", { status: 500 }));
    const destination = await createDestination(owner, quiet);
    const id = await insertDelivery(destination.id);
    const delays: number[] = [];
    for (const attempt of [1, 2, 3]) {
      const result = await deliver(id, attempt);
      expect(result.explicitAcks).toEqual([]);
      delays.push(result.delays[0]!);
    }
    expect(delays[0]).toBeGreaterThanOrEqual(4);
    expect(delays[0]).toBeLessThanOrEqual(6);
    expect(delays[1]).toBeGreaterThanOrEqual(24);
    expect(delays[1]).toBeLessThanOrEqual(36);
    expect(delays[2]).toBeGreaterThanOrEqual(96);
    expect(delays[2]).toBeLessThanOrEqual(144);
    const attempts = await attemptsOf(id);
    expect(attempts.map((a) => [a.attempt, a.status, a.responseCode, a.error])).toEqual([
      [1, "failed", 500, "HTTP 500"],
      [2, "failed", 500, "HTTP 500"],
      [3, "failed", 500, "HTTP 500"],
    ]);
    for (const [i, attempt] of attempts.entries()) {
      const planned = attempt.nextRetryAt!.getTime() - attempt.createdAt.getTime();
      expect(Math.abs(planned - delays[i]! * 1000)).toBeLessThan(1000);
    }
    const row = await deliveryRow(id);
    expect(row).toMatchObject({ status: "retrying", attemptCount: 3 });
    expect((await destinationRow(destination.id)).failingSince).not.toBeNull();
  });

  it("honours Retry-After on 429, 502, 503 and 504, in seconds or as a date", async () => {
    const destination = await createDestination(owner, quiet);
    fetches = interceptFetch(() => new Response("slow down", { status: 429, headers: { "retry-after": "120" } }));
    expect((await deliver(await insertDelivery(destination.id))).delays[0]).toBe(120);
    const inFiveMinutes = new Date(Date.now() + 300_000).toUTCString();
    fetches.respond(() => new Response("", { status: 503, headers: { "retry-after": inFiveMinutes } }));
    const dated = (await deliver(await insertDelivery(destination.id))).delays[0] ?? 0;
    expect(dated).toBeGreaterThanOrEqual(298);
    expect(dated).toBeLessThanOrEqual(301);
    fetches.respond(() => new Response("", { status: 504, headers: { "retry-after": "999999" } }));
    expect((await deliver(await insertDelivery(destination.id))).delays[0]).toBe(43200);
    // Without the header the schedule applies.
    fetches.respond(() => new Response("", { status: 502 }));
    const plain = (await deliver(await insertDelivery(destination.id), 2)).delays[0] ?? 0;
    expect(plain).toBeGreaterThanOrEqual(24);
    expect(plain).toBeLessThanOrEqual(36);
  });

  it("counts 3xx as a failure without following it", async () => {
    fetches = interceptFetch(() => new Response(null, { status: 301, headers: { location: "https://elsewhere.receiver.invalid/" } }));
    const destination = await createDestination(owner, quiet);
    const id = await insertDelivery(destination.id);
    const result = await deliver(id);
    expect(result.retryMessages).toHaveLength(1);
    expect(fetches.received).toHaveLength(1);
    expect(fetches.received[0]!.init?.redirect).toBe("manual");
    expect((await deliveryRow(id)).lastResponseCode).toBe(301);
  });

  it("records exactly one success for a receiver that fails 3 times then succeeds", async () => {
    let calls = 0;
    fetches = interceptFetch(() => new Response(++calls <= 3 ? "down" : "ok", { status: calls <= 3 ? 503 : 200 }));
    const destination = await createDestination(owner, quiet);
    const id = await insertDelivery(destination.id);
    for (const attempt of [1, 2, 3]) expect((await deliver(id, attempt)).retryMessages).toHaveLength(1);
    expect((await deliver(id, 4)).explicitAcks).toHaveLength(1);
    // A duplicate copy of the message (Queues deliver at least once) is acknowledged without a send.
    const duplicate = await deliver(id, 1);
    expect(duplicate.explicitAcks).toHaveLength(1);
    expect(fetches.received).toHaveLength(4);
    expect(new Set(fetches.received.map((r) => r.headers.get("webhook-id")))).toEqual(new Set([id]));
    const attempts = await attemptsOf(id);
    expect(attempts.filter((a) => a.status === "succeeded")).toHaveLength(1);
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3, 4]);
    expect(await deliveryRow(id)).toMatchObject({ status: "succeeded", attemptCount: 4 });
    expect((await destinationRow(destination.id)).failingSince).toBeNull();
  });

  it("acks and retries each message on its own in a mixed batch", async () => {
    fetches = interceptFetch((request) => new Response("", { status: request.url.includes("/good") ? 200 : 500 }));
    const good = await createDestination(owner, { ...quiet, url: "https://hooks.receiver.invalid/good" });
    const bad = await createDestination(owner, { ...quiet, url: "https://hooks.receiver.invalid/bad" });
    const goodIds = [await insertDelivery(good.id), await insertDelivery(good.id)];
    const badId = await insertDelivery(bad.id);
    const result = await runQueue(
      QUEUE_NAMES.notifications,
      [...goodIds, badId].map((deliveryId) => ({ body: { kind: "delivery", deliveryId, generation: 0 } })),
    );
    expect(result.ackAll).toBe(false);
    expect(result.retryBatch.retry).toBe(false);
    expect(result.explicitAcks).toHaveLength(2);
    expect(result.retryMessages).toHaveLength(1);
    for (const id of goodIds) expect((await deliveryRow(id)).status).toBe("succeeded");
    expect((await deliveryRow(badId)).status).toBe("retrying");
  });

  it("marks the delivery failed when the last attempt of its schedule fails; dead letters (a backstop) do too", async () => {
    fetches = interceptFetch(() => new Response("", { status: 500 }));
    const destination = await createDestination(owner, quiet);
    const id = await insertDelivery(destination.id);
    expect(MAX_ATTEMPTS).toBe(9);
    const last = await deliver(id, MAX_ATTEMPTS);
    expect(last.explicitAcks).toHaveLength(1);
    expect(await deliveryRow(id)).toMatchObject({ status: "failed", nextRetryAt: null, sweepAt: null, lastError: "HTTP 500" });

    // A fresh copy of a message (re-queued by the sweep: the queue counts 1) keeps the schedule the row counted.
    const swept = await insertDelivery(destination.id);
    await db()
      .update(notificationDeliveries)
      .set({ scheduleAttempts: MAX_ATTEMPTS - 1, status: "retrying" })
      .where(eq(notificationDeliveries.id, swept));
    expect((await deliver(swept, 1)).explicitAcks).toHaveLength(1);
    expect(await deliveryRow(swept)).toMatchObject({ status: "failed", scheduleAttempts: MAX_ATTEMPTS });

    // A message that kept failing before any decision ends in the dead-letter queue, whose consumer marks it failed.
    const dlq = await insertDelivery(destination.id);
    const dead = await runQueue(QUEUE_NAMES.notificationsDeadLetter, [{ body: { kind: "delivery", deliveryId: dlq, generation: 0 } }]);
    expect(dead.explicitAcks).toHaveLength(1);
    expect(await deliveryRow(dlq)).toMatchObject({ status: "failed", nextRetryAt: null });

    // A dead letter never overrides a success or a newer generation.
    fetches.respond(() => new Response("ok"));
    const done = await insertDelivery(destination.id);
    await deliver(done);
    await runQueue(QUEUE_NAMES.notificationsDeadLetter, [{ body: { kind: "delivery", deliveryId: done, generation: 0 } }]);
    expect((await deliveryRow(done)).status).toBe("succeeded");
  });
});

describe("disabling destinations", () => {
  async function expectDisabled(destinationId: string, reason: RegExp) {
    const row = await destinationRow(destinationId);
    expect(row.enabled).toBe(false);
    expect(row.disabledReason).toMatch(reason);
    const subscriptions = await db()
      .select()
      .from(notificationSubscriptions)
      .where(eq(notificationSubscriptions.destinationId, destinationId));
    expect(subscriptions).toEqual([]);
    const [activity] = (await activityRows({ scope: "NotificationDestination", activity: "updated" })).filter(
      (r) => r.item_id === destinationId,
    );
    expect(activity).toMatchObject({ is_system: 1, user_id: null, team_id: owner.projectId });
    expect(activity?.detail.changes).toEqual([
      { type: "NotificationDestination", action: "changed", field: "enabled", before: true, after: false },
    ]);
    expect(activity?.detail.context.reason).toMatch(reason);
  }

  it("disables a webhook at once on 410 and fails its other deliveries without sending", async () => {
    fetches = interceptFetch(() => new Response("gone", { status: 410 }));
    const destination = await createDestination(owner, quiet);
    const first = await insertDelivery(destination.id);
    const second = await insertDelivery(destination.id);
    const result = await deliver(first);
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toEqual([]);
    expect(await deliveryRow(first)).toMatchObject({ status: "failed", lastResponseCode: 410 });
    await expectDisabled(destination.id, /410/);
    expect((await deliver(second)).explicitAcks).toHaveLength(1);
    expect(fetches.received).toHaveLength(1);
    expect(await deliveryRow(second)).toMatchObject({ status: "failed", lastError: "the destination is disabled" });
  });

  it.each([
    [404, "channel_not_found"],
    [410, "channel_is_archived"],
  ])("disables a Slack destination on %i %s", async (status, body) => {
    fetches = interceptFetch(() => new Response(body, { status }));
    const destination = await createDestination(owner, { ...quiet, type: "slack", url: "https://hooks.slack.com/services/T/B/z" });
    const id = await insertDelivery(destination.id, "slack");
    expect((await deliver(id)).explicitAcks).toHaveLength(1);
    await expectDisabled(destination.id, new RegExp(String(status)));
  });

  it("retries (does not disable) other Slack errors", async () => {
    fetches = interceptFetch(() => new Response("invalid_blocks", { status: 400 }));
    const destination = await createDestination(owner, { ...quiet, type: "slack", url: "https://hooks.slack.com/services/T/B/w" });
    expect((await deliver(await insertDelivery(destination.id, "slack"))).retryMessages).toHaveLength(1);
    expect((await destinationRow(destination.id)).enabled).toBe(true);
  });

  it("disables a destination whose deliveries have failed for 5 days straight", async () => {
    fetches = interceptFetch(() => new Response("", { status: 500 }));
    const destination = await createDestination(owner, quiet);
    const fourDays = new Date(Date.now() - 4 * 86_400_000);
    await db().update(notificationDestinations).set({ failingSince: fourDays }).where(eq(notificationDestinations.id, destination.id));
    expect((await deliver(await insertDelivery(destination.id))).retryMessages).toHaveLength(1);
    expect((await destinationRow(destination.id)).enabled).toBe(true);

    const sixDays = new Date(Date.now() - 6 * 86_400_000);
    await db().update(notificationDestinations).set({ failingSince: sixDays }).where(eq(notificationDestinations.id, destination.id));
    const id = await insertDelivery(destination.id);
    expect((await deliver(id)).explicitAcks).toHaveLength(1);
    expect((await deliveryRow(id)).status).toBe("failed");
    await expectDisabled(destination.id, /5 days/);

    // Turning it back on starts a fresh failure clock.
    const res = await call(`${projectDestinations(owner)}${destination.id}/`, { key: owner.key, method: "PATCH", body: { enabled: true } });
    expect(res.body).toMatchObject({ enabled: true, disabled_reason: null, failing_since: null });
  });

  it("checks the URL again at send time", async () => {
    fetches = interceptFetch();
    const destination = await createDestination(owner, quiet);
    await db()
      .update(notificationDestinations)
      .set({ url: "https://[::ffff:169.254.169.254]/" })
      .where(eq(notificationDestinations.id, destination.id));
    const id = await insertDelivery(destination.id);
    expect((await deliver(id)).explicitAcks).toHaveLength(1);
    expect(fetches.received).toEqual([]);
    expect((await deliveryRow(id)).lastError).toMatch(/^URL refused/);
    await expectDisabled(destination.id, /URL refused/);
  });
});

describe("delivery log and redeliver", { timeout: 30_000 }, () => {
  it("lists deliveries with their attempts, filtered by status and event", async () => {
    fetches = interceptFetch(() => new Response("", { status: 500 }));
    const destination = await createDestination(owner, quiet);
    const failing = await insertDelivery(destination.id);
    await deliver(failing, 1);
    fetches.respond(() => new Response("ok"));
    const ok = await insertDelivery(destination.id);
    await deliver(ok);
    const base = `${projectDestinations(owner)}${destination.id}/deliveries/`;

    const all = await call(base, { key: owner.key });
    expect(all.status).toBe(200);
    expect(all.body.count).toBe(2);
    expect(all.body.results.map((d: any) => d.id)).toEqual([ok, failing]);
    const retrying = all.body.results[1];
    expect(retrying).toMatchObject({ status: "retrying", event: "change_request_created", attempt_count: 1, last_response_code: 500 });
    expect(retrying.attempts).toEqual([
      expect.objectContaining({ attempt: 1, status: "failed", response_code: 500, error: "HTTP 500", next_retry_at: expect.any(String) }),
    ]);
    expect(retrying.payload).toMatchObject({ type: "change_request_created" });

    const succeeded = await call(`${base}?status=succeeded`, { key: owner.key });
    expect(succeeded.body.results.map((d: any) => d.id)).toEqual([ok]);
    expect((await call(`${base}?event=logs_alert_firing`, { key: owner.key })).body.count).toBe(0);
    expect((await call(`${base}?status=lost`, { key: owner.key })).body.attr).toBe("status");
    const page = await call(`${base}?limit=1`, { key: owner.key });
    expect(page.body.next).toContain("offset=1");
  });

  it("lists a page of more than 100 deliveries (one bound parameter per delivery was a 500 from 101)", async () => {
    const destination = await createDestination(owner, quiet);
    await Promise.all(Array.from({ length: 150 }, () => insertDelivery(destination.id)));
    const res = await call(`${projectDestinations(owner)}${destination.id}/deliveries/?limit=1000`, { key: owner.key });
    expect(res.status).toBe(200);
    expect(res.body.results).toHaveLength(150);
    expect((await call(`${projectDestinations(owner)}${destination.id}/deliveries/?limit=1001`, { key: owner.key })).status).toBe(400);
  });

  it("redelivers through the queue with the same webhook-id and drops the superseded message", async () => {
    fetches = interceptFetch(() => new Response("ok"));
    const destination = await createDestination(owner, quiet);
    const id = await insertDelivery(destination.id);
    await deliver(id);
    const first = fetches.received[0]!;

    const res = await call(`${projectDestinations(owner)}${destination.id}/deliveries/${id}/redeliver/`, {
      key: owner.key,
      method: "POST",
    });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ id, status: "pending" });
    // The real queue consumer picks the message up.
    await eventually(async () => (await deliveryRow(id)).status === "succeeded" && fetches.received.length === 2);
    const second = fetches.received[1]!;
    expect(second.headers.get("webhook-id")).toBe(id);
    expect(second.body).toBe(first.body);
    expect(new Webhook(destination.secret).verify(second.body, Object.fromEntries(second.headers))).toBeTruthy();
    expect(await deliveryRow(id)).toMatchObject({ generation: 1, attemptCount: 2 });
    expect(
      (await activityRows({ scope: "NotificationDestination", activity: "redelivered" })).some((r) => r.detail.context.delivery_id === id),
    ).toBe(true);

    // A message of the older generation still on the queue is a no-op.
    expect((await deliver(id, 1, 0)).explicitAcks).toHaveLength(1);
    expect(fetches.received).toHaveLength(2);
  });

  it("refuses to redeliver to a disabled destination and 404s a foreign delivery", async () => {
    const destination = await createDestination(owner, { ...quiet, enabled: false });
    const other = await createDestination(owner, quiet);
    const id = await insertDelivery(destination.id);
    const base = projectDestinations(owner);
    const disabled = await call(`${base}${destination.id}/deliveries/${id}/redeliver/`, { key: owner.key, method: "POST" });
    expect(disabled).toMatchObject({ status: 409, body: { code: "destination_disabled" } });
    const foreign = await call(`${base}${other.id}/deliveries/${id}/redeliver/`, { key: owner.key, method: "POST" });
    expect(foreign.status).toBe(404);
  });
});

describe("retry policy", () => {
  it("follows the documented schedule with ±20 % jitter, capped at 12 h", () => {
    expect(RETRY_SCHEDULE_SECONDS).toEqual([5, 30, 120, 600, 1800, 7200, 21600, 43200]);
    expect(backoffSeconds(1, 0)).toBe(4);
    expect(backoffSeconds(1, 0.999)).toBe(6);
    expect(backoffSeconds(4, 0.5)).toBe(600);
    expect(backoffSeconds(8, 0.999)).toBe(43200);
    expect(backoffSeconds(20, 0.5)).toBe(43200);
  });

  it("reads Retry-After", () => {
    const now = Date.UTC(2026, 0, 1);
    expect(retryAfterSeconds("7", now)).toBe(7);
    expect(retryAfterSeconds("0", now)).toBe(1);
    expect(retryAfterSeconds(new Date(now + 90_000).toUTCString(), now)).toBe(90);
    expect(retryAfterSeconds("soon", now)).toBeNull();
    expect(retryAfterSeconds(null, now)).toBeNull();
  });

  it("reads at most 64 KB of an answer", async () => {
    fetches = interceptFetch(() => new Response("x".repeat(300_000)));
    const result = await postJson("https://hooks.receiver.invalid/big", "{}", {});
    expect(result.status).toBe(200);
    expect(result.body.length).toBe(64 * 1024);
  });
});
