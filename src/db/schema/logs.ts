import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { projects } from "./accounts";

export const logRecords = sqliteTable(
  "log_records",
  {
    id: integer().primaryKey(),
    uuid: text().notNull(),
    projectId: integer()
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    timestamp: integer().notNull(),
    observedTimestamp: integer().notNull(),
    /** Normalised level: trace | debug | info | warn | error | fatal. */
    severityText: text().notNull(),
    severityNumber: integer().notNull(),
    serviceName: text().notNull(),
    body: text().notNull(),
    traceId: text(),
    spanId: text(),
    traceFlags: integer().notNull(),
    /** JSON object of string values (non-string OTLP values JSON-encoded, as PostHog stores them). */
    attributes: text().notNull(),
    resourceAttributes: text().notNull(),
    instrumentationScope: text().notNull(),
    eventName: text().notNull(),
  },
  (t) => [
    // Time-ordered listing and cursor paging; severity and service ride along so partial-minute
    // counts are answered from the index alone.
    index("log_records_project_time").on(t.projectId, t.timestamp, t.severityText, t.serviceName),
    index("log_records_project_service_time").on(t.projectId, t.serviceName, t.timestamp),
    index("log_records_project_severity_time").on(t.projectId, t.severityText, t.timestamp),
  ],
);

export const logMinuteCounts = sqliteTable(
  "log_minute_counts",
  {
    projectId: integer()
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    /** Minutes since the epoch (UTC). */
    minute: integer().notNull(),
    serviceName: text().notNull(),
    severityText: text().notNull(),
    count: integer().notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.minute, t.serviceName, t.severityText] })],
);

export const logAttributeKeys = sqliteTable(
  "log_attribute_keys",
  {
    projectId: integer()
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    /** "log" (record attributes) or "resource" (resource attributes), as PostHog names them. */
    attributeType: text().notNull(),
    /** Hours since the epoch (UTC). */
    hour: integer().notNull(),
    key: text().notNull(),
    serviceName: text().notNull(),
    count: integer().notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.attributeType, t.hour, t.key, t.serviceName] })],
);

export const logAttributeValues = sqliteTable(
  "log_attribute_values",
  {
    projectId: integer()
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    attributeType: text().notNull(),
    key: text().notNull(),
    hour: integer().notNull(),
    value: text().notNull(),
    serviceName: text().notNull(),
    count: integer().notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.attributeType, t.key, t.hour, t.value, t.serviceName] }),
    index("log_attribute_values_project_hour").on(t.projectId, t.hour),
  ],
);

// ---------------------------------------------------------------------------------------------
// Notifications (issue #6). A destination (project-level, or organization-level when `team_id` is
// null) is expanded into `notification_subscriptions` rows while enabled: one per (event type,
// match key), so the fan-out finds the few candidates of an event with one index lookup however
// many destinations exist. Deliveries are per (event, destination); every send is an attempt row.
// The outbox holds the ids of committed activity rows until their events are on the queue.
// ---------------------------------------------------------------------------------------------
