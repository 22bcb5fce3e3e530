import { and, eq, getTableColumns, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { alias } from "drizzle-orm/sqlite-core";
import { createDb, type Db } from "../db/client";
import { activityLog, notificationDeliveries, users } from "../db/schema";
import type { Env } from "../env";
import { outboxDone } from "../events/outbox";
import { sendMessages } from "../events/publish";
import { uuidv7 } from "../lib/ids";
import { log } from "../lib/log";
import { NOTIFICATION_EVENT_TYPES, type NotificationEvent } from "../lib/messages";
import { isoRequired } from "../lib/time";
import { backoffSeconds, DELIVERY_SWEEP_GRACE_MS } from "./delivery";
import { candidatesQuery, type Destination, matchingDestinations } from "./matching";
import { requestBody } from "./payloads";

export type EventMessage = { kind: "event"; event: NotificationEvent; outboxId?: string };
type DeliveryInsert = typeof notificationDeliveries.$inferInsert;

const EVENT_TYPES = new Set<string>(NOTIFICATION_EVENT_TYPES);
// 100 bound parameters per statement is D1's limit; a delivery row binds one per column.
const ROWS_PER_INSERT = Math.floor(100 / Object.keys(getTableColumns(notificationDeliveries)).length);
const inJson = (ids: string[]) => sql`(select value from json_each(${JSON.stringify(ids)}))`;

function isValidEvent(event: NotificationEvent | undefined): event is NotificationEvent & { id: string } {
  return !!event && typeof event.id === "string" && EVENT_TYPES.has(event.type) && typeof event.organizationId === "string";
}

/** The `data` of an activity event: the row as the activity log API shows it. */
async function activityData(db: Db, ids: string[]): Promise<Map<string, Record<string, unknown>>> {
  if (!ids.length) return new Map();
  const recorder = alias(users, "recorder");
  const rows = await db
    .select({ row: activityLog, user: getTableColumns(users), recorder: { id: recorder.id, uuid: recorder.uuid, email: recorder.email } })
    .from(activityLog)
    .leftJoin(users, eq(users.id, activityLog.userId))
    .leftJoin(recorder, eq(recorder.id, activityLog.recordedByUserId))
    .where(sql`${activityLog.id} in ${inJson(ids)}`);
  return new Map(
    rows.map(({ row, user, recorder }) => [
      row.id,
      {
        id: row.id,
        organization_id: row.organizationId,
        team_id: row.teamId,
        user: user ? { id: user.id, uuid: user.uuid, first_name: user.firstName, last_name: user.lastName, email: user.email } : null,
        was_impersonated: row.wasImpersonated,
        is_system: row.isSystem,
        client: row.client,
        activity: row.activity,
        item_id: row.itemId,
        scope: row.scope,
        detail: row.detail,
        created_at: isoRequired(row.createdAt),
        recorded_by:
          row.recordedByUserId === null && row.recordedByKeyId === null ? null : { user: recorder, api_key_id: row.recordedByKeyId },
      },
    ]),
  );
}

/**
 * Matches events against destinations and enqueues one delivery message per match. The deliveries
 * are inserted in the same D1 batch that takes the events out of their outbox rows, so an event
 * leaves the outbox only once its fan-out is recorded. Deliveries are unique per (event,
 * destination), so a redelivered event or a republished outbox row creates nothing twice; a
 * delivery still waiting for its first attempt is re-enqueued, and one whose message is lost
 * anyway is re-queued by the delivery sweep (delivery-sweep.job.ts).
 */
export async function fanOut(messages: Message<EventMessage>[], env: Env): Promise<void> {
  const valid: Message<EventMessage & { event: { id: string } }>[] = [];
  for (const message of messages) {
    if (isValidEvent(message.body.event)) valid.push(message as Message<EventMessage & { event: { id: string } }>);
    else {
      log("error", "dropping malformed notification event", { body: JSON.stringify(message.body).slice(0, 500) });
      message.ack();
    }
  }
  const [first, ...rest] = valid;
  if (!first) return;
  try {
    const db = createDb(env.DB);
    const candidates = await db.batch([candidatesQuery(db, first.body.event), ...rest.map((m) => candidatesQuery(db, m.body.event))]);
    const matched = valid
      .map((message, i) => ({ event: message.body.event, destinations: matchingDestinations(candidates[i] ?? [], message.body.event) }))
      .filter((match) => match.destinations.length);
    const data = await activityData(
      db,
      matched.filter((match) => !match.event.data).map((match) => match.event.id),
    );
    const now = new Date();
    const rows: DeliveryInsert[] = [];
    for (const { event, destinations } of matched) {
      // An activity row removed before its event was handled (retention) has nothing left to send.
      const payload = event.data ?? data.get(event.id);
      if (!payload) continue;
      for (const destination of destinations) rows.push(deliveryRow(destination, event, payload, now));
    }
    const statements: BatchItem<"sqlite">[] = [];
    for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
      statements.push(
        db
          .insert(notificationDeliveries)
          .values(rows.slice(i, i + ROWS_PER_INSERT))
          .onConflictDoNothing(),
      );
    }
    statements.push(...outboxDone(db, outboxGroups(valid)));
    const [head, ...tail] = statements;
    if (head) await db.batch([head, ...tail]);
    if (rows.length) {
      const waiting = await db
        .select({ id: notificationDeliveries.id })
        .from(notificationDeliveries)
        .where(
          and(
            sql`${notificationDeliveries.eventId} in ${inJson([...new Set(rows.map((r) => r.eventId))])}`,
            eq(notificationDeliveries.status, "pending"),
            eq(notificationDeliveries.attemptCount, 0),
            eq(notificationDeliveries.generation, 0),
          ),
        );
      await sendMessages(
        env,
        waiting.map(({ id }) => ({ kind: "delivery", deliveryId: id, generation: 0 })),
      );
    }
    for (const message of valid) message.ack();
  } catch (error) {
    log("error", "notification fan-out failed; retrying its events", { error });
    for (const message of valid) message.retry({ delaySeconds: backoffSeconds(message.attempts) });
  }
}

/** The handled events of each outbox row. */
function outboxGroups(messages: Message<EventMessage & { event: { id: string } }>[]) {
  const groups = new Map<string, string[]>();
  for (const { body } of messages) {
    if (body.outboxId) groups.set(body.outboxId, [...(groups.get(body.outboxId) ?? []), body.event.id]);
  }
  return [...groups].map(([outboxId, eventIds]) => ({ outboxId, eventIds }));
}

function deliveryRow(
  destination: Destination,
  event: NotificationEvent & { id: string },
  data: Record<string, unknown>,
  now: Date,
): DeliveryInsert {
  return {
    id: uuidv7(),
    destinationId: destination.id,
    eventId: event.id,
    eventType: event.type,
    body: requestBody(destination.type, event.type, event.occurredAt, data),
    status: "pending",
    attemptCount: 0,
    generation: 0,
    lastResponseCode: null,
    lastError: null,
    nextRetryAt: null,
    scheduleAttempts: 0,
    sweepAt: new Date(now.getTime() + DELIVERY_SWEEP_GRACE_MS),
    createdAt: now,
    updatedAt: now,
  };
}
