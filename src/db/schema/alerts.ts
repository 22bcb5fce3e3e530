import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { organizations, projects, users } from "./accounts";
import { json, timestamp } from "./columns";
import { notificationDestinations } from "./notifications";

export interface LogsAlertFilters {
  severityLevels?: string[];
  serviceNames?: string[];
  filterGroup?: unknown;
}

export type LogsAlertStateName = "not_firing" | "firing" | "errored" | "snoozed" | "broken";

export const logsAlerts = sqliteTable(
  "logs_alerts",
  {
    id: text().primaryKey(),
    organizationId: text()
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    teamId: integer()
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    name: text().notNull(),
    enabled: integer({ mode: "boolean" }).notNull(),
    filters: json<LogsAlertFilters>().notNull(),
    thresholdCount: integer().notNull(),
    thresholdOperator: text().$type<"above" | "below">().notNull(),
    windowMinutes: integer().notNull(),
    checkIntervalMinutes: integer().notNull(),
    evaluationPeriods: integer().notNull(),
    datapointsToAlarm: integer().notNull(),
    cooldownMinutes: integer().notNull(),
    snoozeUntil: timestamp(),
    state: text().$type<LogsAlertStateName>().notNull(),
    version: integer().notNull().default(1),
    nextCheckAt: timestamp(),
    lastNotifiedAt: timestamp(),
    lastCheckedAt: timestamp(),
    /**
     * The outcomes of this version's latest successful checks (at most HISTORY_LENGTH) as a bitmap,
     * bit 0 the newest, 1 = breached; null = not known here yet (only the Durable Object knows). With
     * `state` and `version` it lets the chunk consumer decide a check that changes nothing by itself.
     */
    recentBreaches: integer(),
    /**
     * The latest window end the consumer handed to the alert's Durable Object. While it is after
     * `last_checked_at`, the object may hold a check D1 does not show yet, so the consumer leaves the
     * alert's checks to the object.
     */
    objectWindowEnd: timestamp(),
    consecutiveFailures: integer().notNull().default(0),
    lastErrorMessage: text(),
    firstEnabledAt: timestamp(),
    createdById: integer().references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp().notNull(),
    updatedAt: timestamp().notNull(),
  },
  (t) => [index("logs_alerts_team_created").on(t.teamId, t.createdAt, t.id), index("logs_alerts_due").on(t.nextCheckAt, t.id)],
);

export const logsAlertEvents = sqliteTable(
  "logs_alert_events",
  {
    id: text().primaryKey(),
    alertId: text()
      .notNull()
      .references(() => logsAlerts.id, { onDelete: "cascade" }),
    /** check | reset | enable | disable | snooze | unsnooze | threshold_change */
    kind: text().notNull(),
    resultCount: integer(),
    thresholdBreached: integer({ mode: "boolean" }),
    stateBefore: text().$type<LogsAlertStateName>().notNull(),
    stateAfter: text().$type<LogsAlertStateName>().notNull(),
    errorMessage: text(),
    queryDurationMs: integer(),
    /** The notification this event sent (firing, resolved, errored, broken), if any. */
    notification: text(),
    windowStart: timestamp(),
    windowEnd: timestamp(),
    /** A check that changed nothing: only the latest ten of these are kept per alert. */
    routine: integer({ mode: "boolean" }).notNull().default(false),
    createdAt: timestamp().notNull(),
  },
  (t) => [
    index("logs_alert_events_alert_created").on(t.alertId, t.createdAt, t.id),
    index("logs_alert_events_alert_routine_window").on(t.alertId, t.routine, t.windowEnd),
    index("logs_alert_events_created").on(t.createdAt),
  ],
);

/** Notification destinations created for an alert through `alerts/:id/destinations/`. */
export const logsAlertDestinations = sqliteTable(
  "logs_alert_destinations",
  {
    alertId: text()
      .notNull()
      .references(() => logsAlerts.id, { onDelete: "cascade" }),
    destinationId: text()
      .notNull()
      .references(() => notificationDestinations.id, { onDelete: "cascade" }),
    createdAt: timestamp().notNull(),
  },
  (t) => [primaryKey({ columns: [t.alertId, t.destinationId] }), index("logs_alert_destinations_destination").on(t.destinationId)],
);

/**
 * One row per chunk of due alerts a cron tick handed out (a queue message): what its checks did and
 * how long the chunk took from the first count to the D1 commit. A tick is its rows' `window_end`.
 */
export const logsAlertCheckBatches = sqliteTable(
  "logs_alert_check_batches",
  {
    id: text().primaryKey(),
    windowEnd: timestamp().notNull(),
    due: integer().notNull(),
    checked: integer().notNull(),
    skipped: integer().notNull(),
    failed: integer().notNull(),
    notifications: integer().notNull(),
    /** Checks the consumer decided from the D1 mirror (they changed nothing) without waking the alert's Durable Object. */
    decidedInConsumer: integer().notNull().default(0),
    enqueuedAt: timestamp().notNull(),
    startedAt: timestamp().notNull(),
    finishedAt: timestamp().notNull(),
  },
  (t) => [index("logs_alert_check_batches_window").on(t.windowEnd)],
);

// ---------------------------------------------------------------------------------------------
// Activity log read side and exports (issue #3). Facets are the distinct values the
// `available_filters` endpoints list, written in the same batch as the activity rows they come
// from (see src/activity/facets.ts). The bookmark is PostHog's per-user "notifications viewed"
// date. Ingest keys make `Idempotency-Key` retries return the first answer for 24 hours.
// An export row is a background job (kind + filters) whose file the exports queue writes to R2.
// ---------------------------------------------------------------------------------------------
