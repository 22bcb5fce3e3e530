import { eq, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { SYSTEM_ACTOR, type WriteContext } from "../audit/record";
import { createDb, type Db } from "../db/client";
import { notificationDeliveries, notificationDeliveryAttempts, notificationDestinations } from "../db/schema";
import type { Env } from "../env";
import { uuidv7 } from "../lib/ids";
import { log } from "../lib/log";
import { openSecret } from "../lib/secret-box";
import { disableDestination } from "./destinations.queries";
import { postJson, type SendResult } from "./http";
import type { Destination } from "./matching";
import { webhookHeaders } from "./signing";
import { allowLoopback, destinationUrlRefusal } from "./url-safety";

/** Delay before retry n (after attempt n failed); with the first attempt that is 9 attempts,
 * matching `max_retries = 8` of the queue in wrangler.toml. 12 h is the Queues maximum delay. */
export const RETRY_SCHEDULE_SECONDS = [5, 30, 120, 600, 1800, 7200, 21600, 43200];
export const MAX_ATTEMPTS = RETRY_SCHEDULE_SECONDS.length + 1;
const MAX_DELAY_SECONDS = 43200;
const THROTTLE_STATUSES = new Set([429, 502, 503, 504]);
export const FAILING_DAYS_BEFORE_DISABLE = 5;
/** How long past its due time (created, redelivered, next retry) an unsettled delivery waits for its
 * queue message before the delivery sweep re-queues it. */
export const DELIVERY_SWEEP_GRACE_MS = 5 * 60_000;
const DAY_MS = 86_400_000;
const STORED_RESPONSE_CHARS = 1000;
const LAST_SUCCESS_RESOLUTION_MS = 60_000;

export type DeliveryMessage = { kind: "delivery"; deliveryId: string; generation: number };

const clampDelay = (seconds: number) => Math.min(MAX_DELAY_SECONDS, Math.max(1, Math.round(seconds)));

/** Exponential backoff from the schedule with ±20 % jitter, so failed receivers are not hit in lockstep. */
export function backoffSeconds(attempts: number, random = Math.random()): number {
  const base = RETRY_SCHEDULE_SECONDS[Math.min(Math.max(attempts, 1), RETRY_SCHEDULE_SECONDS.length) - 1] ?? MAX_DELAY_SECONDS;
  return clampDelay(base * (0.8 + 0.4 * random));
}

/** `Retry-After` as delta-seconds or an HTTP date, in seconds from `now`; null when absent or unreadable. */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | null {
  const value = header?.trim();
  if (!value) return null;
  if (/^\d+$/.test(value)) return clampDelay(Number(value));
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : clampDelay((at - now) / 1000);
}

export type Outcome = { kind: "succeeded" } | { kind: "retry"; delaySeconds: number } | { kind: "disable"; reason: string };

/** What a receiver's answer means for this delivery. */
export function classify(type: Destination["type"], result: SendResult, attempts: number, now = Date.now()): Outcome {
  const { status } = result;
  if (status !== null && status >= 200 && status < 300) return { kind: "succeeded" };
  if (status === 410)
    return { kind: "disable", reason: `the receiver answered 410${result.body ? ` (${result.body.trim().slice(0, 100)})` : ""}` };
  if (type === "slack" && status === 404 && result.body.trim() === "channel_not_found") {
    return { kind: "disable", reason: "Slack answered 404 channel_not_found" };
  }
  if (status !== null && THROTTLE_STATUSES.has(status)) {
    const retryAfter = retryAfterSeconds(result.retryAfter, now);
    if (retryAfter !== null) return { kind: "retry", delaySeconds: retryAfter };
  }
  return { kind: "retry", delaySeconds: backoffSeconds(attempts) };
}

/** The secrets that sign right now: the current one, and the previous one for 24 h after a rotation. */
export async function liveSecrets(env: Env, destination: Destination, now = Date.now()): Promise<string[]> {
  const sealed = destination.secret ? [destination.secret] : [];
  if (destination.previousSecret && destination.previousSecretExpiresAt && destination.previousSecretExpiresAt.getTime() > now) {
    sealed.push(destination.previousSecret);
  }
  return Promise.all(sealed.map((secret) => openSecret(env, secret)));
}

/** One signed (webhook) or plain (Slack) POST of a stored body; callers check the URL first. */
export async function postToDestination(env: Env, destination: Destination, webhookId: string, body: string): Promise<SendResult> {
  const headers =
    destination.type === "webhook"
      ? webhookHeaders(webhookId, Math.floor(Date.now() / 1000), body, await liveSecrets(env, destination))
      : {};
  return postJson(destination.url, body, headers);
}

/** A WriteContext for work the system does inside a queue handler; `settle()` awaits its background work. */
export function systemWriteContext(env: Env, db: Db): WriteContext & { settle(): Promise<void> } {
  const pending: Promise<unknown>[] = [];
  return {
    db,
    env,
    actor: SYSTEM_ACTOR,
    waitUntil: (promise) => pending.push(promise),
    settle: async () => {
      await Promise.allSettled(pending);
    },
  };
}

type Row = { delivery: typeof notificationDeliveries.$inferSelect; destination: Destination | null };

/** A destination's state across the messages of one batch: its failure clock and whether it is off. */
interface DestinationState {
  destination: Destination;
  disabled: boolean;
  disableReason: string | null;
  failingSince: Date | null;
  succeededAt: Date | null;
  sent: boolean;
}

/** What the send of one message decided; the writes of a whole batch go to D1 together. */
interface Decision {
  message: Message<DeliveryMessage>;
  statements: BatchItem<"sqlite">[];
  retryDelay: number | null;
}

/** Concurrent sends to one webhook within a batch; Slack gets one at a time (about 1 message/s per webhook). */
const WEBHOOK_LANES = 4;

/**
 * Sends each delivery message once and acks or retries it on its own: one receiver's failure never
 * holds back another's messages. Different destinations are sent in parallel; one destination gets
 * at most WEBHOOK_LANES concurrent requests (Slack: one after another).
 * The attempts, delivery states and failure clocks of the batch are then written in one D1 batch.
 */
export async function deliverMessages(messages: Message<DeliveryMessage>[], env: Env): Promise<void> {
  if (!messages.length) return;
  const db = createDb(env.DB);
  const ids = [...new Set(messages.map((m) => m.body.deliveryId))];
  const rows: Row[] = await db
    .select({ delivery: notificationDeliveries, destination: notificationDestinations })
    .from(notificationDeliveries)
    .leftJoin(notificationDestinations, eq(notificationDestinations.id, notificationDeliveries.destinationId))
    .where(sql`${notificationDeliveries.id} in (select value from json_each(${JSON.stringify(ids)}))`);
  const byId = new Map(rows.map((row) => [row.delivery.id, row]));
  const groups = new Map<string, Message<DeliveryMessage>[]>();
  for (const message of messages) {
    const key = byId.get(message.body.deliveryId)?.delivery.destinationId ?? "";
    groups.set(key, [...(groups.get(key) ?? []), message]);
  }
  const states = new Map<string, DestinationState>();
  const handled = new Set<string>();
  const decisions: Decision[] = [];
  await Promise.all(
    [...groups.values()].map((group) => {
      const type = byId.get(group[0]!.body.deliveryId)?.destination?.type;
      return inLanes(group, type === "webhook" ? WEBHOOK_LANES : 1, async (message) => {
        try {
          decisions.push(await decide(env, db, message, byId.get(message.body.deliveryId), states, handled));
        } catch (error) {
          log("error", "delivery failed unexpectedly", { delivery_id: message.body.deliveryId, error });
          message.retry({ delaySeconds: backoffSeconds(message.attempts) });
        }
      });
    }),
  );

  const [first, ...rest] = [...decisions.flatMap((d) => d.statements), ...clockStatements(db, states.values())];
  try {
    if (first) await db.batch([first, ...rest]);
  } catch (error) {
    // The delivery log must not say less than what happened: send again (receivers dedupe on webhook-id).
    log("error", "delivery outcomes not recorded; retrying the batch", { error });
    for (const { message } of decisions) message.retry({ delaySeconds: backoffSeconds(message.attempts) });
    return;
  }
  const ctx = systemWriteContext(env, db);
  for (const state of states.values()) {
    if (state.disableReason) await disableDestination(ctx, state.destination, state.disableReason);
  }
  await ctx.settle();
  for (const { message, retryDelay } of decisions) {
    // Settled (succeeded, failed, superseded) or retried on the schedule; a message lost either way is the sweep's.
    if (retryDelay === null) message.ack();
    else message.retry({ delaySeconds: retryDelay });
  }
}

/** Runs `fn` over `items` with at most `lanes` at a time, in order within each lane. */
async function inLanes<T>(items: T[], lanes: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(lanes, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** Each destination's failure clock after the batch: a success resets it, a failure starts it if it is not running. */
function clockStatements(db: Db, states: Iterable<DestinationState>): BatchItem<"sqlite">[] {
  const statements: BatchItem<"sqlite">[] = [];
  for (const state of states) {
    if (!state.sent) continue;
    const where = eq(notificationDestinations.id, state.destination.id);
    if (state.succeededAt) {
      const { failingSince, lastSuccessAt } = state.destination;
      // A healthy destination's row is rewritten at most once a minute, not once per batch.
      if (
        !failingSince &&
        !state.failingSince &&
        lastSuccessAt &&
        state.succeededAt.getTime() - lastSuccessAt.getTime() < LAST_SUCCESS_RESOLUTION_MS
      )
        continue;
      statements.push(
        db.update(notificationDestinations).set({ failingSince: state.failingSince, lastSuccessAt: state.succeededAt }).where(where),
      );
    } else if (state.failingSince) {
      const since = state.failingSince.getTime();
      statements.push(
        db
          .update(notificationDestinations)
          .set({ failingSince: sql`coalesce(${notificationDestinations.failingSince}, ${since})` })
          .where(where),
      );
    }
  }
  return statements;
}

async function decide(
  env: Env,
  db: Db,
  message: Message<DeliveryMessage>,
  row: Row | undefined,
  states: Map<string, DestinationState>,
  handled: Set<string>,
): Promise<Decision> {
  // Gone, superseded by a redeliver, already delivered, or a duplicate copy in this batch.
  if (!row || row.delivery.generation !== message.body.generation || row.delivery.status === "succeeded" || handled.has(row.delivery.id)) {
    return { message, statements: [], retryDelay: null };
  }
  handled.add(row.delivery.id);
  const { delivery, destination } = row;
  const state = destination ? (states.get(destination.id) ?? newState(destination)) : null;
  if (destination && state) states.set(destination.id, state);
  const now = new Date();
  if (!state || state.disabled) {
    const failed = db
      .update(notificationDeliveries)
      .set({ status: "failed", lastError: "the destination is disabled", nextRetryAt: null, sweepAt: null, updatedAt: now })
      .where(eq(notificationDeliveries.id, delivery.id));
    return { message, statements: [failed], retryDelay: null };
  }

  // Checked again at send time: the rules or ALLOW_LOOPBACK_DESTINATIONS may differ from when it was saved.
  const refusal = destinationUrlRefusal(state.destination.type, state.destination.url, allowLoopback(env));
  const result: SendResult = refusal
    ? { status: null, body: "", retryAfter: null, durationMs: 0, error: `URL refused: ${refusal}` }
    : await postToDestination(env, state.destination, delivery.id, delivery.body);
  // The attempt on the retry schedule: the queue's count, or the row's when the message is a fresh
  // copy (re-queued by the sweep after a lost message), so the schedule never starts over.
  const attempts = Math.max(message.attempts, delivery.scheduleAttempts + 1);
  const outcome: Outcome = refusal
    ? { kind: "disable", reason: `URL refused: ${refusal}` }
    : classify(state.destination.type, result, attempts);
  const succeeded = outcome.kind === "succeeded";
  state.sent = true;
  if (succeeded) {
    state.failingSince = null;
    state.succeededAt = now;
  } else {
    state.failingSince ??= now;
  }
  const disableReason =
    outcome.kind === "disable"
      ? outcome.reason
      : state.failingSince && now.getTime() - state.failingSince.getTime() >= FAILING_DAYS_BEFORE_DISABLE * DAY_MS
        ? `every delivery failed for ${FAILING_DAYS_BEFORE_DISABLE} days`
        : null;
  if (disableReason) {
    state.disabled = true;
    state.disableReason = disableReason;
  }
  // The last attempt of the schedule failing makes the delivery `failed` here; the dead-letter queue
  // is the backstop for messages that kept failing before a decision (src/notifications/notifications.consumer.ts).
  const status = succeeded ? "succeeded" : disableReason || attempts >= MAX_ATTEMPTS ? "failed" : "retrying";
  const retryDelay = status === "retrying" && outcome.kind === "retry" ? outcome.delaySeconds : null;
  const nextRetryAt = retryDelay !== null ? new Date(now.getTime() + retryDelay * 1000) : null;
  const error = result.error ?? (succeeded ? null : `HTTP ${result.status}`);
  const statements: BatchItem<"sqlite">[] = [
    db.insert(notificationDeliveryAttempts).values({
      id: uuidv7(),
      deliveryId: delivery.id,
      attempt: delivery.attemptCount + 1,
      status: succeeded ? "succeeded" : "failed",
      responseCode: result.status,
      durationMs: result.durationMs,
      error,
      responseBody: result.body ? result.body.slice(0, STORED_RESPONSE_CHARS) : null,
      nextRetryAt,
      createdAt: now,
    }),
    db
      .update(notificationDeliveries)
      .set({
        status,
        attemptCount: sql`${notificationDeliveries.attemptCount} + 1`,
        scheduleAttempts: attempts,
        lastResponseCode: result.status,
        lastError: error,
        nextRetryAt,
        sweepAt: nextRetryAt && new Date(nextRetryAt.getTime() + DELIVERY_SWEEP_GRACE_MS),
        updatedAt: now,
      })
      .where(eq(notificationDeliveries.id, delivery.id)),
  ];
  return { message, statements, retryDelay };
}

function newState(destination: Destination): DestinationState {
  return {
    destination,
    disabled: !destination.enabled,
    disableReason: null,
    failingSince: destination.failingSince,
    succeededAt: null,
    sent: false,
  };
}

/** Dead-letter consumer: deliveries whose attempts ran out become `failed`. */
export async function markDeliveriesFailed(messages: Message<DeliveryMessage>[], env: Env): Promise<void> {
  if (!messages.length) return;
  const db = createDb(env.DB);
  const now = new Date();
  const [first, ...rest] = messages.map((message) =>
    db
      .update(notificationDeliveries)
      .set({ status: "failed", nextRetryAt: null, sweepAt: null, updatedAt: now })
      .where(
        sql`${notificationDeliveries.id} = ${message.body.deliveryId} and ${notificationDeliveries.generation} = ${message.body.generation} and ${notificationDeliveries.status} != 'succeeded'`,
      ),
  );
  if (first) await db.batch([first, ...rest]);
  for (const message of messages) message.ack();
}
