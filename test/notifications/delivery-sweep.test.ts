import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { notificationDeliveries } from "../../src/db/schema";
import { DELIVERY_SWEEP_GRACE_MS } from "../../src/notifications/delivery";
import { DELIVERY_SWEEP_SQL, sweepDeliveries } from "../../src/notifications/delivery-sweep.job";
import { SCHEDULED_JOBS } from "../../src/scheduled/scheduled";
import { db, signupFirstUser, type Tenant } from "../helpers";
import { captureQueue, consume, createDestination, deliveryRow, insertDelivery, interceptFetch } from "./notify-helpers";

let owner: Tenant;
let fetches: ReturnType<typeof interceptFetch>;
let queue: ReturnType<typeof captureQueue>;

beforeAll(async () => {
  owner = await signupFirstUser();
});

afterEach(async () => {
  fetches?.restore();
  queue?.restore();
  vi.restoreAllMocks();
  // Each test sweeps its own rows only.
  await db().update(notificationDeliveries).set({ sweepAt: null });
});

const quiet = { events: ["change_request_created"] };
const setRow = (id: string, values: Partial<typeof notificationDeliveries.$inferInsert>) =>
  db().update(notificationDeliveries).set(values).where(eq(notificationDeliveries.id, id));

describe("delivery sweep", () => {
  it("is one of the cron's jobs", () => {
    expect(SCHEDULED_JOBS.sweepDeliveries).toBe(sweepDeliveries);
  });

  it("re-queues pending and retrying deliveries past their due time plus grace, with their id and generation, and only those", async () => {
    queue = captureQueue();
    const destination = await createDestination(owner, quiet);
    const now = Date.now();
    const created = new Date(now - 10 * 60_000);
    const pending = await insertDelivery(destination.id);
    await setRow(pending, { createdAt: created, updatedAt: created, sweepAt: new Date(created.getTime() + DELIVERY_SWEEP_GRACE_MS) });
    const retrying = await insertDelivery(destination.id);
    await setRow(retrying, {
      status: "retrying",
      generation: 2,
      attemptCount: 3,
      scheduleAttempts: 3,
      updatedAt: created,
      nextRetryAt: new Date(now - DELIVERY_SWEEP_GRACE_MS - 1000),
      sweepAt: new Date(now - 1000),
    });
    const notYet = await insertDelivery(destination.id);
    await setRow(notYet, { sweepAt: new Date(now + 1000) });
    const succeeded = await insertDelivery(destination.id);
    await setRow(succeeded, { status: "succeeded", sweepAt: null });
    const failed = await insertDelivery(destination.id);
    await setRow(failed, { status: "failed", sweepAt: null });

    expect(await sweepDeliveries(env, now)).toBe(2);
    expect(queue.queued).toEqual(
      expect.arrayContaining([
        { kind: "delivery", deliveryId: pending, generation: 0 },
        { kind: "delivery", deliveryId: retrying, generation: 2 },
      ]),
    );
    expect(queue.queued).toHaveLength(2);
    // Re-armed after as long as each was stuck (10 minutes here), so the next tick leaves them alone.
    expect((await deliveryRow(pending)).sweepAt?.getTime()).toBe(now + 10 * 60_000);
    expect(await sweepDeliveries(env, now + 500)).toBe(0);

    // The copies go out under the delivery ids, so receivers see the webhook-id they may already have.
    fetches = interceptFetch(() => new Response("ok"));
    await consume(queue.take());
    expect(fetches.received.map((r) => r.headers.get("webhook-id")).sort()).toEqual([pending, retrying].sort());
    expect(await deliveryRow(pending)).toMatchObject({ status: "succeeded", sweepAt: null, attemptCount: 1 });
    // The retry schedule goes on where the row left it (4th attempt), not from 1.
    expect(await deliveryRow(retrying)).toMatchObject({ status: "succeeded", sweepAt: null, attemptCount: 4, scheduleAttempts: 4 });
    // Settled deliveries are out of the sweep's index: a day later only the one not due yet comes up.
    expect(await sweepDeliveries(env, now + 24 * 3600_000)).toBe(1);
    expect(queue.take()).toEqual([{ kind: "delivery", deliveryId: notYet, generation: 0 }]);
  });

  it("re-queues at most a batch per tick, the most overdue first", async () => {
    queue = captureQueue();
    const destination = await createDestination(owner, quiet);
    const now = Date.now();
    const ids: string[] = [];
    for (const ago of [3000, 1000, 2000]) {
      const id = await insertDelivery(destination.id);
      await setRow(id, { sweepAt: new Date(now - ago) });
      ids.push(id);
    }
    expect(await sweepDeliveries(env, now, 2)).toBe(2);
    expect(queue.take().map((m) => (m.kind === "delivery" ? m.deliveryId : null))).toEqual([ids[0], ids[2]]);
    expect(await sweepDeliveries(env, now, 2)).toBe(1);
    expect(queue.take().map((m) => (m.kind === "delivery" ? m.deliveryId : null))).toEqual([ids[1]]);
  });

  it("reads the overdue end of the partial index on sweep_at", async () => {
    const select = DELIVERY_SWEEP_SQL.slice(DELIVERY_SWEEP_SQL.indexOf("SELECT"), DELIVERY_SWEEP_SQL.lastIndexOf(")"));
    const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${select}`).bind(Date.now(), 0, 0, 500).all<{ detail: string }>();
    const plan = results.map((r) => r.detail).join("\n");
    expect(plan).toContain("USING INDEX notification_deliveries_sweep (sweep_at<?)");
    expect(plan).not.toContain("TEMP B-TREE");
  });

  it("sends again, under the same webhook-id, a delivery whose consumer died after sending", async () => {
    queue = captureQueue();
    const destination = await createDestination(owner, quiet);
    const id = await insertDelivery(destination.id);
    const now = Date.now();
    await setRow(id, { sweepAt: new Date(now + DELIVERY_SWEEP_GRACE_MS) });
    fetches = interceptFetch(() => new Response("ok"));
    // The receiver gets it, then the isolate dies before D1 records it; the queue message is lost with it.
    const batch = vi.spyOn(env.DB, "batch").mockRejectedValueOnce(new Error("isolate died"));
    await consume([{ kind: "delivery", deliveryId: id, generation: 0 }]);
    batch.mockRestore();
    queue.take();
    expect(fetches.received).toHaveLength(1);
    expect(await deliveryRow(id)).toMatchObject({ status: "pending", attemptCount: 0 });

    expect(await sweepDeliveries(env, now + DELIVERY_SWEEP_GRACE_MS - 1)).toBe(0);
    expect(await sweepDeliveries(env, now + DELIVERY_SWEEP_GRACE_MS + 1)).toBe(1);
    await consume(queue.take());
    expect(fetches.received.map((r) => r.headers.get("webhook-id"))).toEqual([id, id]);
    expect(fetches.received[1]!.body).toBe(fetches.received[0]!.body);
    expect(await deliveryRow(id)).toMatchObject({ status: "succeeded", attemptCount: 1, sweepAt: null });
  });
});
