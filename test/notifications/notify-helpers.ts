import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { vi } from "vitest";
import { notificationDeliveries, notificationDestinations } from "../../src/db/schema";
import type { NotificationMessage } from "../../src/lib/messages";
import { requestBody } from "../../src/notifications/payloads";
import { QUEUE_NAMES } from "../../src/queues";
import { call, db, type Tenant } from "../helpers";
import { runQueue } from "../queue-helpers";

export interface Received {
  url: string;
  method: string;
  headers: Headers;
  body: string;
  init: RequestInit | undefined;
}

type Handler = (request: Received) => Response | Promise<Response>;

/**
 * Stands in for the internet: every outgoing `fetch` of the Worker (tests share its isolate) goes to
 * `handler` and is recorded. A fetch to anything else fails the way an unreachable host does.
 */
export function interceptFetch(handler: Handler = () => new Response("ok")) {
  const received: Received[] = [];
  let current = handler;
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const entry: Received = { url: request.url, method: request.method, headers: request.headers, body: await request.text(), init };
    received.push(entry);
    return current(entry);
  });
  return {
    received,
    respond(next: Handler) {
      current = next;
    },
    restore: () => spy.mockRestore(),
  };
}

export const projectDestinations = (tenant: Tenant) => `/api/projects/${tenant.projectId}/destinations/`;

export async function createDestination(tenant: Tenant, body: Record<string, unknown>, base = projectDestinations(tenant)) {
  const res = await call(base, {
    key: tenant.key,
    body: { name: "Receiver", type: "webhook", url: "https://hooks.receiver.invalid/in", ...body },
  });
  if (res.status !== 201) throw new Error(`destination create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function destinationRow(id: string) {
  const [row] = await db().select().from(notificationDestinations).where(eq(notificationDestinations.id, id));
  return row!;
}

export async function deliveryRow(id: string) {
  const [row] = await db().select().from(notificationDeliveries).where(eq(notificationDeliveries.id, id));
  return row!;
}

let seq = 0;

/** A delivery row as the fan-out would write it, so delivery tests drive the consumer alone. */
export async function insertDelivery(
  destinationId: string,
  type: "slack" | "webhook" = "webhook",
  data: Record<string, unknown> = { n: ++seq },
) {
  const now = new Date();
  const id = crypto.randomUUID();
  await db()
    .insert(notificationDeliveries)
    .values({
      id,
      destinationId,
      eventId: crypto.randomUUID(),
      eventType: "change_request_created",
      body: requestBody(type, "change_request_created", now.toISOString(), data),
      status: "pending",
      createdAt: now,
      updatedAt: now,
    });
  return id;
}

export { runQueue };

export const deliver = (deliveryId: string, attempts = 1, generation = 0) =>
  runQueue(QUEUE_NAMES.notifications, [{ body: { kind: "delivery", deliveryId, generation }, attempts }]);

/**
 * Ends a file's background deliveries before its fetch interceptor goes: with every destination
 * disabled, queued messages are marked failed without a send.
 */
export async function stopDeliveries() {
  await db().update(notificationDestinations).set({ enabled: false });
}

/** Polls until `check` returns a truthy value (background queue work), or fails after `ms`. */
export async function eventually<T>(check: () => Promise<T | null | undefined | false>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Stands in for the notifications queue: what the Worker sends is kept here instead of being
 * consumed in the background, so a test decides what reaches the consumer (`take`, then
 * `runQueue`) and what is lost (never taken, or `drop`ped).
 */
export function captureQueue() {
  let queued: NotificationMessage[] = [];
  const sendBatch = vi.spyOn(env.NOTIFICATIONS_QUEUE, "sendBatch").mockImplementation(async (batch) => {
    for (const message of batch) queued.push(message.body as NotificationMessage);
    return undefined as never;
  });
  const send = vi.spyOn(env.NOTIFICATIONS_QUEUE, "send").mockImplementation(async (body) => {
    queued.push(body as NotificationMessage);
    return undefined as never;
  });
  return {
    get queued() {
      return queued;
    },
    /** Everything queued so far, removed from the queue. */
    take(): NotificationMessage[] {
      const taken = queued;
      queued = [];
      return taken;
    },
    restore() {
      sendBatch.mockRestore();
      send.mockRestore();
    },
  };
}

/** Runs messages through the notifications consumer, as the queue would hand them over. */
export const consume = (messages: NotificationMessage[]) =>
  messages.length
    ? runQueue(
        QUEUE_NAMES.notifications,
        messages.map((body) => ({ body })),
      )
    : null;
