import type { z } from "@hono/zod-openapi";
import { and, asc, count, desc, eq, gt, gte, inArray, lt, or, type SQL, sql } from "drizzle-orm";
import type { Context } from "hono";
import { commitWithActivity, createdChange, deletedChange, diffChanges, writeContext } from "../audit/record";
import type { AppBindings } from "../auth/context";
import { createDb, type Db } from "../db/client";
import { logsAlerts, notificationDeliveries, notificationDeliveryAttempts, notificationDestinations, users } from "../db/schema";
import { sendMessages } from "../events/publish";
import { conflict, notFound, validationError } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { type LimitOffset, limitOffsetPage } from "../lib/pagination";
import { sealSecret } from "../lib/secret-box";
import { iso, isoRequired } from "../lib/time";
import { DELIVERY_SWEEP_GRACE_MS, postToDestination } from "./delivery";
import {
  auditedFields,
  DESTINATION_SCOPE,
  type DestinationOwner,
  type DestinationScope,
  destinationActivity,
  findDestination,
  MASKED,
  newDestination,
  ownedBy,
  serializeDestination,
  serializeDestinations,
  serializeDestinationsWith,
} from "./destinations.queries";
import type { BulkRedeliverSchema, DeliveryListQuery, DestinationCreateSchema, DestinationUpdateSchema } from "./destinations.routes";
import { type Destination, reindexStatements, subscriptionInserts } from "./matching";
import { requestBody } from "./payloads";
import { newWebhookSecret } from "./signing";
import { allowLoopback, destinationUrlRefusal } from "./url-safety";

type Ctx = Context<AppBindings>;
type CreateInput = z.infer<typeof DestinationCreateSchema>;
type UpdateInput = z.infer<typeof DestinationUpdateSchema>;
type BulkRedeliverInput = z.output<typeof BulkRedeliverSchema>;

const SECRET_OVERLAP_MS = 24 * 60 * 60 * 1000;
const TEST_RESPONSE_CHARS = 2000;

function assertUrlAllowed(c: Ctx, type: Destination["type"], url: string) {
  const refusal = destinationUrlRefusal(type, url, allowLoopback(c.env));
  if (refusal) throw validationError(refusal, "url");
}

/** The events without a project, the only ones organization-level destinations exist for. */
const ORGANIZATION_EVENTS = new Set(["activity_log_entry_created", "activity_log_checkpoint_signed"]);

function assertFitsOwner(owner: DestinationOwner, input: { events?: string[]; include_organization_activity?: boolean }) {
  if (owner.teamId !== null) return;
  if (input.events?.some((event) => !ORGANIZATION_EVENTS.has(event))) {
    throw validationError(
      "Organization destinations receive organization-level activity and activity log checkpoints only: use activity_log_entry_created or activity_log_checkpoint_signed.",
      "events",
    );
  }
  if (input.include_organization_activity) {
    throw validationError("Organization destinations always receive organization-level activity.", "include_organization_activity");
  }
}

/** `filters.alert_ids` name alerts of the destination's organization only: another's ids are a 400, not a silent subscription. */
async function assertAlertsInOrganization(db: Db, owner: DestinationOwner, filters: { alert_ids?: string[] } | undefined) {
  const ids = [...new Set(filters?.alert_ids ?? [])];
  if (!ids.length) return;
  // The ids travel as one JSON parameter: up to 100 of them would pass D1's 100 bound parameters.
  const found = await db
    .select({ id: logsAlerts.id })
    .from(logsAlerts)
    .where(
      and(
        eq(logsAlerts.organizationId, owner.organizationId),
        sql`${logsAlerts.id} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`,
      ),
    );
  const known = new Set(found.map((f) => f.id));
  const index = (filters?.alert_ids ?? []).findIndex((id) => !known.has(id));
  if (index >= 0) throw validationError("This alert does not exist in this organization.", `filters__alert_ids__${index}`);
}

/** A page of destinations, their total and their creators: one D1 batch (the creators through a subquery of the page). */
export async function listDestinations(c: Ctx, owner: DestinationScope, page: LimitOffset) {
  const db = createDb(c.env.DB);
  const where = ownedBy(owner);
  const ordered = () =>
    db
      .select({ id: notificationDestinations.createdById })
      .from(notificationDestinations)
      .where(where)
      .orderBy(notificationDestinations.createdAt, notificationDestinations.id)
      .limit(page.limit)
      .offset(page.offset);
  const [rows, [total], creators] = await db.batch([
    db
      .select()
      .from(notificationDestinations)
      .where(where)
      .orderBy(notificationDestinations.createdAt, notificationDestinations.id)
      .limit(page.limit)
      .offset(page.offset),
    db.select({ n: count() }).from(notificationDestinations).where(where),
    db.select().from(users).where(inArray(users.id, ordered())),
  ]);
  return limitOffsetPage(c.req.url, page, total?.n ?? 0, serializeDestinationsWith(rows, creators));
}

export async function getDestination(c: Ctx, owner: DestinationScope, id: string) {
  const db = createDb(c.env.DB);
  const where = and(eq(notificationDestinations.id, id), ownedBy(owner));
  const [rows, creators] = await db.batch([
    db.select().from(notificationDestinations).where(where),
    db
      .select()
      .from(users)
      .where(inArray(users.id, db.select({ id: notificationDestinations.createdById }).from(notificationDestinations).where(where))),
  ]);
  const [serialized] = serializeDestinationsWith(rows, creators);
  if (!serialized) throw notFound();
  return serialized;
}

export async function createDestination(c: Ctx, owner: DestinationOwner, input: CreateInput) {
  assertFitsOwner(owner, input);
  assertUrlAllowed(c, input.type, input.url);
  const db = createDb(c.env.DB);
  await assertAlertsInOrganization(db, owner, input.filters);
  const now = new Date();
  const { destination, secret } = await newDestination(
    c.env,
    {
      organizationId: owner.organizationId,
      teamId: owner.teamId,
      name: input.name,
      type: input.type,
      url: input.url,
      enabled: input.enabled,
      events: input.events,
      filters: input.filters,
      includeOrganizationActivity: input.include_organization_activity,
      createdById: c.var.auth.user.id,
    },
    now,
  );
  await commitWithActivity(
    writeContext(c, db),
    [db.insert(notificationDestinations).values(destination), ...subscriptionInserts(db, destination)],
    [destinationActivity(destination, "created", { changes: createdChange(DESTINATION_SCOPE, auditedFields(destination)) })],
  );
  return serializeDestination(destination, c.var.auth.user, secret);
}

export async function updateDestination(c: Ctx, owner: DestinationOwner, id: string, input: UpdateInput) {
  assertFitsOwner(owner, input);
  const db = createDb(c.env.DB);
  const before = await findDestination(db, owner, id);
  if (input.url !== undefined && input.url !== before.url) assertUrlAllowed(c, before.type, input.url);
  await assertAlertsInOrganization(db, owner, input.filters);
  const reEnabled = input.enabled === true && !before.enabled;
  const after: Destination = {
    ...before,
    name: input.name ?? before.name,
    url: input.url ?? before.url,
    enabled: input.enabled ?? before.enabled,
    events: input.events ?? before.events,
    filters: input.filters ?? before.filters,
    includeOrganizationActivity: input.include_organization_activity ?? before.includeOrganizationActivity,
    // A person turning it back on starts a fresh failure clock.
    disabledReason: reEnabled ? null : before.disabledReason,
    failingSince: reEnabled ? null : before.failingSince,
    updatedAt: new Date(),
  };
  const changes = diffChanges(DESTINATION_SCOPE, auditedFields(before), auditedFields(after));
  if (before.type === "slack" && input.url !== undefined && input.url !== before.url) {
    changes.push({ type: DESTINATION_SCOPE, action: "changed", field: "url", before: MASKED, after: MASKED });
  }
  if (changes.length) {
    await commitWithActivity(
      writeContext(c, db),
      [
        db
          .update(notificationDestinations)
          .set({
            name: after.name,
            url: after.url,
            enabled: after.enabled,
            events: after.events,
            filters: after.filters,
            includeOrganizationActivity: after.includeOrganizationActivity,
            disabledReason: after.disabledReason,
            failingSince: after.failingSince,
            updatedAt: after.updatedAt,
          })
          .where(eq(notificationDestinations.id, id)),
        ...reindexStatements(db, after),
      ],
      [destinationActivity(after, "updated", { changes })],
    );
  }
  return getDestination(c, owner, id);
}

export async function deleteDestination(c: Ctx, owner: DestinationOwner, id: string) {
  const db = createDb(c.env.DB);
  const destination = await findDestination(db, owner, id);
  await commitWithActivity(
    writeContext(c, db),
    [db.delete(notificationDestinations).where(eq(notificationDestinations.id, id))],
    [destinationActivity(destination, "deleted", { changes: deletedChange(DESTINATION_SCOPE, auditedFields(destination)) })],
  );
}

export async function rotateSecret(c: Ctx, owner: DestinationOwner, id: string) {
  const db = createDb(c.env.DB);
  const destination = await findDestination(db, owner, id);
  if (destination.type !== "webhook") throw validationError("Only webhook destinations have a signing secret.", "type");
  const now = new Date();
  const secret = newWebhookSecret();
  const rotated: Destination = {
    ...destination,
    secret: await sealSecret(c.env, secret),
    previousSecret: destination.secret,
    previousSecretExpiresAt: new Date(now.getTime() + SECRET_OVERLAP_MS),
    updatedAt: now,
  };
  await commitWithActivity(
    writeContext(c, db),
    [
      db
        .update(notificationDestinations)
        .set({
          secret: rotated.secret,
          previousSecret: rotated.previousSecret,
          previousSecretExpiresAt: rotated.previousSecretExpiresAt,
          updatedAt: now,
        })
        .where(eq(notificationDestinations.id, id)),
    ],
    [
      destinationActivity(rotated, "updated", {
        changes: [{ type: DESTINATION_SCOPE, action: "changed", field: "secret", before: MASKED, after: MASKED }],
      }),
    ],
  );
  const [serialized] = await serializeDestinations(db, [rotated]);
  return { ...serialized!, secret };
}

/** Sends a `test` event straight away (not through the queue) and reports the answer. */
export async function testDestination(c: Ctx, owner: DestinationOwner, id: string) {
  const destination = await findDestination(createDb(c.env.DB), owner, id);
  assertUrlAllowed(c, destination.type, destination.url);
  const webhookId = uuidv7();
  const body = requestBody(destination.type, "test", new Date().toISOString(), {
    message: `Test notification for destination "${destination.name}".`,
    destination: { id: destination.id, name: destination.name },
  });
  const result = await postToDestination(c.env, destination, webhookId, body);
  return {
    success: result.status !== null && result.status >= 200 && result.status < 300,
    status_code: result.status,
    response_body: result.body.slice(0, TEST_RESPONSE_CHARS),
    duration_ms: result.durationMs,
    error: result.error,
    webhook_id: webhookId,
  };
}

type DeliveryRow = typeof notificationDeliveries.$inferSelect;

function serializeDeliveries(deliveries: DeliveryRow[], attempts: (typeof notificationDeliveryAttempts.$inferSelect)[]) {
  return deliveries.map((delivery) => ({
    id: delivery.id,
    destination: delivery.destinationId,
    event_id: delivery.eventId,
    event: delivery.eventType,
    status: delivery.status,
    attempt_count: delivery.attemptCount,
    last_response_code: delivery.lastResponseCode,
    last_error: delivery.lastError,
    next_retry_at: iso(delivery.nextRetryAt),
    payload: JSON.parse(delivery.body) as unknown,
    attempts: attempts
      .filter((a) => a.deliveryId === delivery.id)
      .map((a) => ({
        attempt: a.attempt,
        status: a.status,
        response_code: a.responseCode,
        duration_ms: a.durationMs,
        error: a.error,
        response_body: a.responseBody,
        next_retry_at: iso(a.nextRetryAt),
        created_at: isoRequired(a.createdAt),
      })),
    created_at: isoRequired(delivery.createdAt),
    updated_at: isoRequired(delivery.updatedAt),
  }));
}

/**
 * A page of a destination's deliveries with their attempts and total, the destination's existence
 * checked in the same D1 batch (404): one round trip.
 */
export async function listDeliveries(c: Ctx, owner: DestinationScope, id: string, query: z.infer<typeof DeliveryListQuery>) {
  const db = createDb(c.env.DB);
  const destination = and(eq(notificationDestinations.id, id), ownedBy(owner));
  const conditions: SQL[] = [
    eq(notificationDeliveries.destinationId, id),
    inArray(
      notificationDeliveries.destinationId,
      db.select({ id: notificationDestinations.id }).from(notificationDestinations).where(destination),
    ),
  ];
  if (query.status) conditions.push(eq(notificationDeliveries.status, query.status));
  if (query.event) conditions.push(eq(notificationDeliveries.eventType, query.event));
  const where = and(...conditions);
  const pageIds = db
    .select({ id: notificationDeliveries.id })
    .from(notificationDeliveries)
    .where(where)
    .orderBy(desc(notificationDeliveries.createdAt), desc(notificationDeliveries.id))
    .limit(query.limit)
    .offset(query.offset);
  const [found, rows, [total], attempts] = await db.batch([
    db.select({ id: notificationDestinations.id }).from(notificationDestinations).where(destination),
    db
      .select()
      .from(notificationDeliveries)
      .where(where)
      .orderBy(desc(notificationDeliveries.createdAt), desc(notificationDeliveries.id))
      .limit(query.limit)
      .offset(query.offset),
    db.select({ n: count() }).from(notificationDeliveries).where(where),
    db
      .select()
      .from(notificationDeliveryAttempts)
      .where(inArray(notificationDeliveryAttempts.deliveryId, pageIds))
      .orderBy(notificationDeliveryAttempts.deliveryId, notificationDeliveryAttempts.attempt),
  ]);
  if (!found.length) throw notFound();
  return limitOffsetPage(c.req.url, query, total?.n ?? 0, serializeDeliveries(rows, attempts));
}

/**
 * Queues a delivery again under the same id (so the same `webhook-id`). Bumping `generation` makes
 * any earlier message of this delivery still on the queue a no-op, so a delivery retrying in 12 h
 * can be pushed now without being sent twice.
 */
export async function redeliver(c: Ctx, owner: DestinationOwner, id: string, deliveryId: string) {
  const db = createDb(c.env.DB);
  const destination = await findDestination(db, owner, id);
  const [delivery] = await db
    .select()
    .from(notificationDeliveries)
    .where(and(eq(notificationDeliveries.id, deliveryId), eq(notificationDeliveries.destinationId, destination.id)));
  if (!delivery) throw notFound();
  if (!destination.enabled) throw conflict("destination_disabled", "Enable the destination before redelivering to it.");
  const generation = delivery.generation + 1;
  const now = new Date();
  await commitWithActivity(
    writeContext(c, db),
    [
      db
        .update(notificationDeliveries)
        .set({ ...requeued(now), generation })
        .where(eq(notificationDeliveries.id, delivery.id)),
    ],
    [destinationActivity(destination, "redelivered", { context: { delivery_id: delivery.id, event: delivery.eventType } })],
  );
  await sendMessages(c.env, [{ kind: "delivery", deliveryId: delivery.id, generation }]);
  const attempts = await db
    .select()
    .from(notificationDeliveryAttempts)
    .where(eq(notificationDeliveryAttempts.deliveryId, delivery.id))
    .orderBy(notificationDeliveryAttempts.attempt);
  const [serialized] = serializeDeliveries([{ ...delivery, ...requeued(now), generation }], attempts);
  return serialized!;
}

/** A redelivered delivery: pending again, on a new retry schedule, swept if its message is lost. */
function requeued(now: Date) {
  return {
    status: "pending" as const,
    nextRetryAt: null,
    scheduleAttempts: 0,
    sweepAt: new Date(now.getTime() + DELIVERY_SWEEP_GRACE_MS),
    updatedAt: now,
  };
}

/** At most this many deliveries per bulk redeliver call; `has_more` says when to call again. */
export const BULK_REDELIVER_LIMIT = 1000;

/**
 * Redelivers the destination's deliveries matching a filter (statuses, event, created_at range),
 * oldest first, at most `limit` per call, each as a single redeliver does (same id, so the same
 * `webhook-id`; a new generation). One activity row records the call. Pass back `cursor` to go on
 * after the last delivery of this call: deliveries redelivered by it are `pending` again and would
 * otherwise match a filter on `pending` once more.
 */
export async function bulkRedeliver(c: Ctx, owner: DestinationOwner, id: string, input: BulkRedeliverInput) {
  const db = createDb(c.env.DB);
  const destination = await findDestination(db, owner, id);
  if (!destination.enabled) throw conflict("destination_disabled", "Enable the destination before redelivering to it.");
  const statuses = input.status ?? ["pending", "retrying", "failed"];
  const limit = input.limit ?? BULK_REDELIVER_LIMIT;
  const conditions: SQL[] = [eq(notificationDeliveries.destinationId, destination.id), inArray(notificationDeliveries.status, statuses)];
  if (input.event) conditions.push(eq(notificationDeliveries.eventType, input.event));
  if (input.after !== undefined) conditions.push(gte(notificationDeliveries.createdAt, new Date(input.after)));
  if (input.before !== undefined) conditions.push(lt(notificationDeliveries.createdAt, new Date(input.before)));
  if (input.cursor) {
    const at = new Date(input.cursor.createdAt);
    conditions.push(
      or(
        gt(notificationDeliveries.createdAt, at),
        and(eq(notificationDeliveries.createdAt, at), gt(notificationDeliveries.id, input.cursor.id)),
      )!,
    );
  }
  const found = await db
    .select({ id: notificationDeliveries.id, createdAt: notificationDeliveries.createdAt })
    .from(notificationDeliveries)
    .where(and(...conditions))
    .orderBy(asc(notificationDeliveries.createdAt), asc(notificationDeliveries.id))
    .limit(limit + 1);
  const chosen = found.slice(0, limit);
  const last = chosen.at(-1);
  const hasMore = found.length > limit;
  const cursor = hasMore && last ? `${last.createdAt.getTime()}_${last.id}` : null;
  if (!chosen.length) return { count: 0, has_more: false, cursor: null };
  const ids = chosen.map((d) => d.id);
  const now = new Date();
  const [updated] = (await commitWithActivity(
    writeContext(c, db),
    [
      db
        .update(notificationDeliveries)
        .set({ ...requeued(now), generation: sql`${notificationDeliveries.generation} + 1` })
        // Still matching: one that succeeded meanwhile is not sent again.
        .where(
          and(
            sql`${notificationDeliveries.id} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`,
            inArray(notificationDeliveries.status, statuses),
          ),
        )
        .returning({ id: notificationDeliveries.id, generation: notificationDeliveries.generation }),
    ],
    [
      destinationActivity(destination, "redelivered", {
        context: {
          bulk: true,
          filter: {
            status: statuses,
            event: input.event ?? null,
            after: iso(input.after ?? null),
            before: iso(input.before ?? null),
          },
          count: ids.length,
          delivery_ids: ids,
        },
      }),
    ],
  )) as { id: string; generation: number }[][];
  const messages = (updated ?? []).map((d) => ({ kind: "delivery" as const, deliveryId: d.id, generation: d.generation }));
  await sendMessages(c.env, messages);
  return { count: messages.length, has_more: hasMore, cursor };
}
