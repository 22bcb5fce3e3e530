import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { signCheckpoints } from "../../src/activity/checkpoints.job";
import { sealAllShards } from "../../src/audit/sequencer";
import { activityLog, notificationDeliveries, notificationOutbox } from "../../src/db/schema";
import { ACTIVITY_EVENT_COLUMNS, activityOutboxInsert, outboxDone, outboxInsert, outboxWritten } from "../../src/events/outbox";
import { sweepNotificationOutbox } from "../../src/events/outbox-sweep.job";
import type { NotificationMessage } from "../../src/lib/messages";
import { alertRow, alertsPath, createAlert, MINUTE, runCheck, T0 } from "../alerts/alert-helpers";
import { createPolicy } from "../approvals/approvals-helpers";
import { addMember, call, db, otherOrganization, signupFirstUser, type Tenant } from "../helpers";
import { captureQueue, consume, createDestination, eventually } from "../notifications/notify-helpers";

let owner: Tenant;
let queue: ReturnType<typeof captureQueue>;

beforeAll(async () => {
  owner = await signupFirstUser();
});

afterEach(async () => {
  queue?.restore();
  vi.restoreAllMocks();
  await db().delete(notificationOutbox);
});

const outboxRows = () => db().select().from(notificationOutbox);
const eventsIn = (messages: NotificationMessage[]) => messages.flatMap((m) => (m.kind === "event" ? [m] : []));
const SWEEP_AFTER = 61_000;

/** The outbox row holding an event, once the publisher had its go. */
async function rowHolding(eventId: string) {
  return eventually(async () => (await outboxRows()).find((row) => row.events.some((e) => e.id === eventId)));
}

/**
 * The queue lost what was sent (or the Worker died before sending): the event stays in its outbox
 * row, the sweep sends it again under the same id and outbox row, and the fan-out clears the row.
 */
async function expectSweptAndCleared(eventId: string) {
  const row = await rowHolding(eventId);
  await eventually(async () => eventsIn(queue.queued).some((m) => m.event.id === eventId));
  queue.take();
  expect(await sweepNotificationOutbox(env, Date.now() + SWEEP_AFTER)).toBeGreaterThanOrEqual(1);
  const again = eventsIn(queue.take()).filter((m) => m.outboxId === row.id);
  expect(again.filter((m) => m.event.id === eventId)).toHaveLength(1);
  await consume(again);
  expect((await outboxRows()).find((r) => r.id === row.id)).toBeUndefined();
}

describe("events travel through the outbox of their cause's batch", { timeout: 30_000 }, () => {
  it("change-request steps", async () => {
    const approver = await addMember(owner, 1);
    const target = await addMember(owner, 1);
    await createPolicy(owner, { action_key: "organization_member.update", approver_config: { users: [approver.userId], quorum: 1 } });
    // Someone listens to activity, so the request's activity row stays in the outbox row too.
    await createDestination(
      owner,
      { url: "https://hooks.receiver.invalid/activity", events: ["activity_log_entry_created"] },
      `/api/organizations/${owner.organizationId}/destinations/`,
    );
    queue = captureQueue();
    const gated = await call(`/api/organizations/${owner.organizationId}/members/${target.userUuid}/`, {
      key: owner.key,
      method: "PATCH",
      body: { level: 8 },
    });
    expect(gated.body.code).toBe("approval_required");
    const id = gated.body.change_request_id;
    const row = await rowHolding(`${id}:change_request_created`);
    // The event and the request's activity row share one outbox row: one commit.
    const [created] = await db().select(ACTIVITY_EVENT_COLUMNS).from(activityLog).where(eq(activityLog.itemId, id));
    expect(row.activityIds).toEqual([created!.id]);
    expect(row.events[0]).toMatchObject({
      type: "change_request_created",
      itemId: id,
      data: { change_request: { id, state: "pending" } },
    });
    await expectSweptAndCleared(`${id}:change_request_created`);
  });

  it("logs alert transitions, only for checks that landed", async () => {
    const alert = await createAlert(owner, { threshold_count: 10 });
    queue = captureQueue();
    expect(await runCheck(alert.id, T0 + 5 * MINUTE, 500)).toMatchObject({ status: "checked", notification: "firing", published: 1 });
    const row = (await outboxRows()).find((r) => r.events.length);
    expect(row?.events).toEqual([expect.objectContaining({ type: "logs_alert_firing", alertId: alert.id })]);
    await expectSweptAndCleared(row!.events[0]!.id);

    // A check of an alert deleted meanwhile writes nothing, and queues nothing.
    const other = await createAlert(owner, { threshold_count: 10 });
    const readByCron = await alertRow(other.id);
    await call(`${alertsPath(owner)}/${other.id}/`, { key: owner.key, method: "DELETE" });
    queue.take();
    expect(await runCheck(other.id, T0 + 5 * MINUTE, 500, readByCron)).toEqual({ status: "stale" });
    expect(eventsIn(queue.take()).filter((m) => m.event.type.startsWith("logs_alert_"))).toEqual([]);
    expect((await outboxRows()).filter((r) => r.events.length)).toEqual([]);
  });

  it("signed checkpoints, even when the send fails", async () => {
    await sealAllShards(env);
    queue = captureQueue();
    vi.spyOn(env.NOTIFICATIONS_QUEUE, "sendBatch").mockRejectedValueOnce(new Error("queue unavailable"));
    const { signed } = await signCheckpoints(env, Date.now());
    expect(signed).toBeGreaterThanOrEqual(1);
    const [row] = (await outboxRows()).filter((r) => r.events.some((e) => e.type === "activity_log_checkpoint_signed"));
    expect(row?.events.map((e) => e.type)).toEqual(Array(signed).fill("activity_log_checkpoint_signed"));
    expect(eventsIn(queue.take())).toEqual([]);
    expect(await sweepNotificationOutbox(env, Date.now() + SWEEP_AFTER)).toBeGreaterThanOrEqual(1);
    const again = eventsIn(queue.take()).filter((m) => m.outboxId === row!.id);
    expect(again).toHaveLength(signed);
    await consume(again);
    expect((await outboxRows()).find((r) => r.id === row!.id)).toBeUndefined();
  });
});

describe("an event leaves the outbox only with its fan-out", { timeout: 30_000 }, () => {
  it("keeps the row while the fan-out fails, and takes out only the events fanned out", async () => {
    await createDestination(owner, { url: "https://hooks.receiver.invalid/outbox", events: ["activity_log_entry_created"] });
    queue = captureQueue();
    await call(`/api/projects/${owner.projectId}/activity_log/`, {
      key: owner.key,
      body: { entries: [1, 2].map((n) => ({ scope: "Invoice", activity: "updated", item_id: `inv-${n}`, detail: { name: `INV-${n}` } })) },
    });
    const messages = await eventually(async () => {
      const events = eventsIn(queue.queued).filter((m) => m.event.scope === "Invoice");
      return events.length === 2 && events;
    });
    queue.take();
    const outboxId = messages[0]!.outboxId!;
    expect(messages[1]!.outboxId).toBe(outboxId);

    // D1 refuses the fan-out's batch: no delivery, and the events stay in their row.
    const batch = vi.spyOn(env.DB, "batch").mockRejectedValueOnce(new Error("D1 unavailable"));
    const failed = await consume(messages);
    batch.mockRestore();
    expect(failed?.retryMessages).toHaveLength(2);
    const [kept] = await db().select().from(notificationOutbox).where(eq(notificationOutbox.id, outboxId));
    expect(kept?.activityIds).toEqual(messages.map((m) => m.event.id));

    // One event fanned out: the row keeps the other; the second empties and deletes it.
    await consume([messages[0]!]);
    const [half] = await db().select().from(notificationOutbox).where(eq(notificationOutbox.id, outboxId));
    expect(half?.activityIds).toEqual([messages[1]!.event.id]);
    const delivered = await db().select().from(notificationDeliveries).where(eq(notificationDeliveries.eventId, messages[0]!.event.id!));
    expect(delivered).toHaveLength(1);
    await consume([messages[1]!]);
    expect(await db().select().from(notificationOutbox).where(eq(notificationOutbox.id, outboxId))).toEqual([]);
  });

  it("takes events out by id, keeping the others as they were", async () => {
    const d = db();
    const event = (id: string) => ({
      id,
      type: "logs_alert_firing" as const,
      organizationId: owner.organizationId,
      teamId: owner.projectId,
      occurredAt: "2026-01-02T03:04:05.678Z",
      data: { nested: { n: [1, 2] }, text: 'a "quoted" value' },
    });
    const entry = outboxInsert(d, ["a1", "a2"], [event("e1"), event("e2")]);
    const other = outboxInsert(d, ["b1"], []);
    const untouched = outboxInsert(d, ["c1"], [event("e3")]);
    await d.batch([entry.statement, other.statement, untouched.statement]);
    // Rows of several commits in one call: two statements whatever their number.
    const statements = outboxDone(d, [
      { outboxId: entry.id, eventIds: ["a2", "e1", "unknown"] },
      { outboxId: other.id, eventIds: ["b1"] },
    ]);
    expect(statements).toHaveLength(2);
    await d.batch([statements[0]!, statements[1]!]);
    const left = async (id: string) => (await d.select().from(notificationOutbox).where(eq(notificationOutbox.id, id)))[0];
    expect(await left(entry.id)).toMatchObject({ activityIds: ["a1"], events: [event("e2")] });
    expect(await left(other.id)).toBeUndefined();
    expect(await left(untouched.id)).toMatchObject({ activityIds: ["c1"], events: [event("e3")] });
    const [again, ...more] = outboxDone(d, [{ outboxId: entry.id, eventIds: ["a1", "e2"] }]);
    await d.batch([again!, ...more]);
    expect(await left(entry.id)).toBeUndefined();
  });
});

describe("a commit of activity rows only writes an outbox row when someone listens", { timeout: 30_000 }, () => {
  it("decides inside the commit, by the rows' organizations' activity subscriptions", async () => {
    const d = db();
    const write = async (organizations: string[]) => {
      const outbox = activityOutboxInsert(d, ["r1", "r2"], organizations);
      const [result] = await d.batch([outbox.statement]);
      const [row] = await d.select().from(notificationOutbox).where(eq(notificationOutbox.id, outbox.id));
      return { written: outboxWritten(result), row };
    };
    const quiet = await otherOrganization(owner);
    const listening = await otherOrganization(owner);
    await createDestination(
      owner,
      { url: "https://hooks.receiver.invalid/listening", events: ["activity_log_entry_created"] },
      `/api/organizations/${listening.organizationId}/destinations/`,
    );
    // A subscription to other events, or in another organization, does not count.
    await createDestination(
      owner,
      { url: "https://hooks.receiver.invalid/alerts-only", events: ["logs_alert_firing"] },
      `/api/projects/${quiet.projectId}/destinations/`,
    );
    expect(await write([quiet.organizationId])).toEqual({ written: false, row: undefined });
    const heard = await write([quiet.organizationId, listening.organizationId]);
    expect(heard.written).toBe(true);
    expect(heard.row).toMatchObject({ activityIds: ["r1", "r2"], events: [] });
    expect(heard.row!.sweepAt.getTime() - heard.row!.createdAt.getTime()).toBe(60_000);
  });

  it("ingest with nobody listening writes no outbox row and queues nothing", async () => {
    const quiet = await otherOrganization(owner);
    queue = captureQueue();
    const outboxBefore = await outboxRows();
    const res = await call(`/api/projects/${quiet.projectId}/activity_log/`, {
      key: owner.key,
      body: { entries: [1, 2, 3].map((n) => ({ scope: "Invoice", activity: "paid", item_id: `q-${n}` })) },
    });
    expect(res.status).toBe(201);
    expect(await outboxRows()).toEqual(outboxBefore);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(eventsIn(queue.take()).filter((m) => m.event.organizationId === quiet.organizationId)).toEqual([]);
  });
});
