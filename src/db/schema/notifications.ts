import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { NotificationEvent } from "../../lib/messages";
import { organizations, projects, users } from "./accounts";
import { json, timestamp } from "./columns";

export interface DestinationFilters {
  scopes?: string[];
  activities?: string[];
  item_ids?: string[];
  alert_ids?: string[];
}

export const notificationDestinations = sqliteTable(
  "notification_destinations",
  {
    id: text().primaryKey(),
    organizationId: text()
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    teamId: integer().references(() => projects.id, { onDelete: "cascade" }),
    name: text().notNull(),
    type: text().$type<"slack" | "webhook">().notNull(),
    url: text().notNull(),
    enabled: integer({ mode: "boolean" }).notNull(),
    events: json<string[]>().notNull(),
    filters: json<DestinationFilters>().notNull(),
    includeOrganizationActivity: integer({ mode: "boolean" }).notNull().default(false),
    /** `whsec_...` signing secret (webhooks); the previous one keeps signing until `previousSecretExpiresAt`. */
    secret: text(),
    previousSecret: text(),
    previousSecretExpiresAt: timestamp(),
    disabledReason: text(),
    /** First failed attempt since the last success; five days of that disables the destination. */
    failingSince: timestamp(),
    lastSuccessAt: timestamp(),
    createdById: integer().references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp().notNull(),
    updatedAt: timestamp().notNull(),
  },
  (t) => [index("notification_destinations_owner").on(t.organizationId, t.teamId, t.createdAt)],
);

export const notificationSubscriptions = sqliteTable(
  "notification_subscriptions",
  {
    organizationId: text().notNull(),
    eventType: text().notNull(),
    /** The project whose events match, or 0 for organization-level events. */
    teamKey: integer().notNull(),
    /** `*`, or the most selective filter value: `item:<id>`, `scope:<scope>`, `activity:<name>`, `alert:<id>`. */
    matchKey: text().notNull(),
    destinationId: text()
      .notNull()
      .references(() => notificationDestinations.id, { onDelete: "cascade" }),
  },
  (t) => [
    primaryKey({ columns: [t.organizationId, t.eventType, t.teamKey, t.matchKey, t.destinationId] }),
    index("notification_subscriptions_destination").on(t.destinationId),
  ],
);

export const notificationDeliveries = sqliteTable(
  "notification_deliveries",
  {
    /** Also the `webhook-id` header: stable across retries and redeliveries. */
    id: text().primaryKey(),
    destinationId: text()
      .notNull()
      .references(() => notificationDestinations.id, { onDelete: "cascade" }),
    eventId: text().notNull(),
    eventType: text().notNull(),
    /** The exact request body, so every attempt sends the same bytes. */
    body: text().notNull(),
    status: text().$type<"pending" | "retrying" | "succeeded" | "failed">().notNull(),
    attemptCount: integer().notNull().default(0),
    /** Bumped by redeliver: queue messages of an older generation are dropped. */
    generation: integer().notNull().default(0),
    lastResponseCode: integer(),
    lastError: text(),
    nextRetryAt: timestamp(),
    /** Attempts counted against the retry schedule: a redeliver starts a new schedule (0). */
    scheduleAttempts: integer().notNull().default(0),
    /**
     * When the delivery sweep re-queues it unless it moved on: its due time (created, redelivered,
     * next retry) plus a grace period. Null once settled (`succeeded`, `failed`).
     */
    sweepAt: timestamp(),
    createdAt: timestamp().notNull(),
    updatedAt: timestamp().notNull(),
  },
  (t) => [
    uniqueIndex("notification_deliveries_event_destination").on(t.eventId, t.destinationId),
    index("notification_deliveries_destination_created").on(t.destinationId, t.createdAt),
    index("notification_deliveries_destination_status").on(t.destinationId, t.status, t.createdAt),
    // Only unsettled deliveries: the sweep reads the overdue end of a small index.
    index("notification_deliveries_sweep")
      .on(t.sweepAt)
      .where(sql`${t.sweepAt} IS NOT NULL`),
  ],
);

export const notificationDeliveryAttempts = sqliteTable(
  "notification_delivery_attempts",
  {
    id: text().primaryKey(),
    deliveryId: text()
      .notNull()
      .references(() => notificationDeliveries.id, { onDelete: "cascade" }),
    attempt: integer().notNull(),
    status: text().$type<"succeeded" | "failed">().notNull(),
    responseCode: integer(),
    durationMs: integer().notNull(),
    error: text(),
    /** The first KB of the receiver's answer. */
    responseBody: text(),
    nextRetryAt: timestamp(),
    createdAt: timestamp().notNull(),
  },
  (t) => [index("notification_delivery_attempts_delivery").on(t.deliveryId, t.attempt)],
);

export const notificationOutbox = sqliteTable(
  "notification_outbox",
  {
    id: text().primaryKey(),
    /** Activity rows whose `activity_log_entry_created` events are not fanned out yet. */
    activityIds: json<string[]>().notNull(),
    /** Other events of the same commit (change requests, alerts, checkpoints), whole, until fanned out. */
    events: json<(NotificationEvent & { id: string })[]>().notNull().default([]),
    createdAt: timestamp().notNull(),
    /** When the outbox sweep republishes it unless the fan-out cleared it first. */
    sweepAt: timestamp().notNull().default(sql`0`),
  },
  (t) => [index("notification_outbox_sweep").on(t.sweepAt)],
);

// ---------------------------------------------------------------------------------------------
// Approvals (issue #4). Policies say which action needs whose sign-off (a null `team_id` is an
// organization-wide policy). Each change request is owned by its Durable Object (votes, state
// machine); `change_requests` and `change_request_votes` are the D1 mirror the object writes in
// the same batch as its activity rows, so lists and filters never wake an object.
// ---------------------------------------------------------------------------------------------
