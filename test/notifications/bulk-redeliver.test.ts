import { eq } from "drizzle-orm";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { notificationDeliveries } from "../../src/db/schema";
import { activityRows, addMember, call, db, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";
import {
  captureQueue,
  consume,
  createDestination,
  deliveryRow,
  insertDelivery,
  interceptFetch,
  projectDestinations,
} from "./notify-helpers";

let owner: Tenant;
let queue: ReturnType<typeof captureQueue>;
let fetches: ReturnType<typeof interceptFetch> | undefined;

beforeAll(async () => {
  owner = await signupFirstUser();
});

afterEach(() => {
  queue?.restore();
  fetches?.restore();
  fetches = undefined;
  vi.restoreAllMocks();
});

const quiet = { events: ["change_request_created"] };
const HOUR = 3600_000;
const bulk = (destinationId: string, body: unknown, key = owner.key, base = projectDestinations(owner)) =>
  call(`${base}${destinationId}/deliveries/redeliver/`, { key, method: "POST", body });

/** A delivery in the given state, created `hoursAgo` hours ago. */
async function delivery(destinationId: string, status: "pending" | "retrying" | "succeeded" | "failed", hoursAgo: number, generation = 0) {
  const id = await insertDelivery(destinationId);
  const at = new Date(Date.now() - hoursAgo * HOUR);
  await db()
    .update(notificationDeliveries)
    .set({ status, createdAt: at, updatedAt: at, generation, attemptCount: status === "pending" ? 0 : 9, scheduleAttempts: 9 })
    .where(eq(notificationDeliveries.id, id));
  return id;
}

const queuedIds = () => queue.queued.flatMap((m) => (m.kind === "delivery" ? [m.deliveryId] : []));

describe("bulk redeliver", () => {
  it("redelivers the deliveries matching status and time range under their own webhook-ids, recording one activity row", async () => {
    queue = captureQueue();
    const destination = await createDestination(owner, quiet);
    const old = await delivery(destination.id, "failed", 3);
    const inRange = await delivery(destination.id, "failed", 2);
    const retrying = await delivery(destination.id, "retrying", 1, 1);
    const succeeded = await delivery(destination.id, "succeeded", 2);
    const pending = await delivery(destination.id, "pending", 0.5);

    const after = new Date(Date.now() - 2.5 * HOUR).toISOString();
    const before = new Date(Date.now() - 0.75 * HOUR).toISOString();
    const res = await bulk(destination.id, { status: ["failed"], after, before });
    expect(res).toMatchObject({ status: 202, body: { count: 1, has_more: false, cursor: null } });
    expect(queue.take()).toEqual([{ kind: "delivery", deliveryId: inRange, generation: 1 }]);
    // As a single redeliver: pending on a new schedule, swept if its message is lost.
    expect(await deliveryRow(inRange)).toMatchObject({ status: "pending", generation: 1, scheduleAttempts: 0, nextRetryAt: null });
    expect((await deliveryRow(inRange)).sweepAt).not.toBeNull();
    const [row] = (await activityRows({ scope: "NotificationDestination", activity: "redelivered" })).filter(
      (r) => r.item_id === destination.id,
    );
    expect(row?.detail.context).toEqual({
      bulk: true,
      filter: { status: ["failed"], event: null, after, before },
      count: 1,
      delivery_ids: [inRange],
    });

    // Without a status: every delivery not succeeded (a succeeded one only when named); one status as a string works too.
    expect((await bulk(destination.id, {})).body).toEqual({ count: 4, has_more: false, cursor: null });
    expect(queuedIds().sort()).toEqual([old, inRange, retrying, pending].sort());
    expect(await deliveryRow(retrying)).toMatchObject({ status: "pending", generation: 2 });
    expect((await bulk(destination.id, { status: "succeeded" })).body.count).toBe(1);
    expect(queuedIds()).toContain(succeeded);

    // The receiver gets each under its delivery id (the webhook-id it already knows), once per generation.
    fetches = interceptFetch(() => new Response("ok"));
    await consume(queue.take());
    expect(fetches.received.map((r) => r.headers.get("webhook-id")).sort()).toEqual([old, inRange, retrying, pending, succeeded].sort());
    for (const id of [old, inRange, retrying, pending, succeeded]) expect((await deliveryRow(id)).status).toBe("succeeded");
    expect((await bulk(destination.id, {})).body).toEqual({ count: 0, has_more: false, cursor: null });
  });

  it("takes at most `limit` (1,000) per call, oldest first, and goes on from the cursor without looping", async () => {
    queue = captureQueue();
    const destination = await createDestination(owner, quiet);
    const ids: string[] = [];
    for (const hours of [5, 4, 3, 2, 1]) ids.push(await delivery(destination.id, "failed", hours));
    // `pending` is in the filter: what a call redelivers matches it again, the cursor moves past it.
    const filter = { status: ["failed", "pending"], limit: 2 };
    const first = await bulk(destination.id, filter);
    expect(first.body).toMatchObject({ count: 2, has_more: true, cursor: expect.any(String) });
    const second = await bulk(destination.id, { ...filter, cursor: first.body.cursor });
    expect(second.body).toMatchObject({ count: 2, has_more: true });
    const third = await bulk(destination.id, { ...filter, cursor: second.body.cursor });
    expect(third.body).toEqual({ count: 1, has_more: false, cursor: null });
    expect(queuedIds()).toEqual(ids);

    expect(await bulk(destination.id, { limit: 1001 })).toMatchObject({ status: 400, body: { attr: "limit" } });
    expect((await bulk(destination.id, { limit: 1000 })).status).toBe(202);
  });

  it("refuses bad filters with a 400 naming the field", async () => {
    const destination = await createDestination(owner, quiet);
    const refused = async (body: unknown, attr: string) => {
      const res = await bulk(destination.id, body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ type: "validation_error", attr });
    };
    await refused({ after: "yesterday" }, "after");
    await refused({ before: "2026-02-30T00:00:00Z" }, "before");
    await refused({ after: "2026-01-02T00:00:00Z", before: "2026-01-01T00:00:00Z" }, "before");
    await refused({ status: ["sent"] }, "status__0");
    await refused({ status: [] }, "status");
    await refused({ event: "nope" }, "event");
    await refused({ cursor: "not-a-cursor" }, "cursor");
    await refused({ limit: 0 }, "limit");
    await refused({ ids: ["x"] }, "ids");
    const malformed = await call(`${projectDestinations(owner)}${destination.id}/deliveries/redeliver/`, {
      key: owner.key,
      method: "POST",
      raw: "{",
    });
    expect(malformed.status).toBe(400);
  });

  it("is for admins with activity_log:write on their own destinations, enabled ones", async () => {
    queue = captureQueue();
    const destination = await createDestination(owner, quiet);
    const id = await delivery(destination.id, "failed", 1);
    const member = await addMember(owner, 1);
    expect((await bulk(destination.id, {}, member.key)).status).toBe(403);
    const readOnly = await keyWithScopes(owner, ["activity_log:read"]);
    const scoped = await bulk(destination.id, {}, readOnly);
    expect(scoped).toMatchObject({ status: 403, body: { detail: "API key missing required scope 'activity_log:write'" } });
    const anonymous = await call(`${projectDestinations(owner)}${destination.id}/deliveries/redeliver/`, { method: "POST", body: {} });
    expect(anonymous.status).toBe(401);

    // Another organization's destination is not found, through either path.
    const theirs = await otherOrganization(member);
    const foreign = await createDestination({ ...member, ...theirs }, quiet);
    expect((await bulk(foreign.id, {})).status).toBe(404);
    expect((await bulk(foreign.id, {}, owner.key, `/api/projects/${theirs.projectId}/destinations/`)).status).toBe(404);

    const disabled = await createDestination(owner, { ...quiet, enabled: false });
    await delivery(disabled.id, "failed", 1);
    expect(await bulk(disabled.id, {})).toMatchObject({ status: 409, body: { code: "destination_disabled" } });
    expect(queuedIds()).toEqual([]);
    expect((await deliveryRow(id)).status).toBe("failed");

    // Organization destinations: the organization's admins, same route under /api/organizations/:id/.
    const orgBase = `/api/organizations/${owner.organizationId}/destinations/`;
    const orgDestination = await createDestination(owner, { events: ["activity_log_entry_created"] }, orgBase);
    const orgDelivery = await delivery(orgDestination.id, "failed", 1);
    expect((await bulk(orgDestination.id, {}, member.key, orgBase)).status).toBe(403);
    expect((await bulk(orgDestination.id, {}, owner.key, orgBase)).body).toMatchObject({ count: 1 });
    expect(queuedIds()).toEqual([orgDelivery]);
  });
});
