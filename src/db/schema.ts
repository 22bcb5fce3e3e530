import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

// Timestamps are stored as integer milliseconds since the epoch: compact, cheap to
// compare and index, and turned into ISO 8601 UTC strings only at the API edge.
const timestamp = () => integer({ mode: "timestamp_ms" });
const json = <T>() => text({ mode: "json" }).$type<T>();

export const users = sqliteTable("users", {
  id: integer().primaryKey({ autoIncrement: true }),
  uuid: text().notNull().unique(),
  distinctId: text().notNull(),
  firstName: text().notNull().default(""),
  lastName: text().notNull().default(""),
  email: text().notNull().unique(),
  isEmailVerified: integer({ mode: "boolean" }).notNull().default(false),
  hedgehogConfig: json<Record<string, unknown>>(),
  roleAtOrganization: text(),
  createdAt: timestamp().notNull(),
});

export const organizations = sqliteTable("organizations", {
  id: text().primaryKey(),
  name: text().notNull(),
  slug: text().notNull().unique(),
  logoMediaId: text(),
  timezone: text().notNull().default("UTC"),
  enforce2fa: integer("enforce_2fa", { mode: "boolean" }),
  membersCanInvite: integer({ mode: "boolean" }).default(true),
  membersCanUsePersonalApiKeys: integer({ mode: "boolean" }).notNull().default(true),
  allowPubliclySharedResources: integer({ mode: "boolean" }).notNull().default(true),
  isMemberJoinEmailEnabled: integer({ mode: "boolean" }).notNull().default(true),
  isAiDataProcessingApproved: integer({ mode: "boolean" }),
  isAiTrainingOptedIn: integer({ mode: "boolean" }),
  defaultExperimentStatsMethod: text().notNull().default("bayesian"),
  defaultAnonymizeIps: integer({ mode: "boolean" }).notNull().default(false),
  defaultRoleId: text(),
  metadata: json<Record<string, string>>(),
  customerId: text(),
  activityLogRetentionDays: integer().notNull().default(365),
  createdAt: timestamp().notNull(),
  updatedAt: timestamp().notNull(),
});

export const organizationMemberships = sqliteTable(
  "organization_memberships",
  {
    id: text().primaryKey(),
    organizationId: text()
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    userId: integer()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    level: integer().notNull(),
    joinedAt: timestamp().notNull(),
    updatedAt: timestamp().notNull(),
  },
  (t) => [
    uniqueIndex("organization_memberships_org_user").on(t.organizationId, t.userId),
    index("organization_memberships_user").on(t.userId),
  ],
);

export const organizationInvites = sqliteTable(
  "organization_invites",
  {
    id: text().primaryKey(),
    organizationId: text()
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    targetEmail: text().notNull(),
    firstName: text().notNull().default(""),
    level: integer().notNull().default(1),
    message: text(),
    createdById: integer().references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp().notNull(),
    updatedAt: timestamp().notNull(),
  },
  (t) => [index("organization_invites_org").on(t.organizationId, t.createdAt)],
);

export const roles = sqliteTable(
  "roles",
  {
    id: text().primaryKey(),
    organizationId: text()
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    name: text().notNull(),
    createdById: integer().references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp().notNull(),
  },
  (t) => [uniqueIndex("roles_org_name").on(t.organizationId, t.name)],
);

export const roleMemberships = sqliteTable(
  "role_memberships",
  {
    id: text().primaryKey(),
    roleId: text()
      .notNull()
      .references(() => roles.id, { onDelete: "cascade" }),
    userId: integer()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    joinedAt: timestamp().notNull(),
  },
  (t) => [uniqueIndex("role_memberships_role_user").on(t.roleId, t.userId), index("role_memberships_user").on(t.userId)],
);

export const projects = sqliteTable(
  "projects",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    uuid: text().notNull().unique(),
    organizationId: text()
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    name: text().notNull(),
    apiToken: text().notNull().unique(),
    timezone: text().notNull().default("UTC"),
    logsRetentionDays: integer().notNull().default(30),
    createdAt: timestamp().notNull(),
    updatedAt: timestamp().notNull(),
  },
  (t) => [index("projects_org").on(t.organizationId)],
);

export const personalApiKeys = sqliteTable(
  "personal_api_keys",
  {
    id: text().primaryKey(),
    userId: integer()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    label: text().notNull(),
    secureValue: text().notNull().unique(),
    maskValue: text().notNull(),
    scopes: json<string[]>().notNull(),
    scopedOrganizations: json<string[]>(),
    scopedTeams: json<number[]>(),
    createdAt: timestamp().notNull(),
    lastUsedAt: timestamp(),
    lastRolledAt: timestamp(),
  },
  (t) => [index("personal_api_keys_user").on(t.userId, t.createdAt)],
);

export interface ActivityChange {
  type: string;
  action: string;
  field?: string | null;
  before?: unknown;
  after?: unknown;
}

export interface ActivityDetail {
  name?: string | null;
  short_id?: string | null;
  type?: string | null;
  changes?: ActivityChange[] | null;
  trigger?: { job_type: string; job_id: string; payload: unknown } | null;
  context?: Record<string, unknown> | null;
}

// `seq` is the row's integer id (the SD Elements feed exposes integer ids); `id` is the
// PostHog-facing UUID v7.
export const activityLog = sqliteTable(
  "activity_log",
  {
    seq: integer().primaryKey({ autoIncrement: true }),
    id: text().notNull().unique(),
    organizationId: text().notNull(),
    teamId: integer(),
    userId: integer(),
    wasImpersonated: integer({ mode: "boolean" }).notNull().default(false),
    isSystem: integer({ mode: "boolean" }).notNull().default(false),
    client: text(),
    ipAddress: text(),
    activity: text().notNull(),
    itemId: text(),
    scope: text().notNull(),
    detail: json<ActivityDetail>(),
    createdAt: timestamp().notNull(),
  },
  // The list queries walk one of the two time indexes newest-first and test every low-cardinality
  // filter on the index entry itself, so only the rows of the page are read from the table. Both
  // grow at their right edge as rows arrive. `item_ids` and `search_text` use FTS5 indexes filled
  // behind the writes (custom migrations, with the append-only triggers): a b-tree on item_id takes
  // inserts all over the tree and cost five times the rest of an insert at a million rows. The
  // query layer names its index (`INDEXED BY`), see src/activity/activity.query.ts.
  (t) => [
    index("activity_log_team_time").on(t.teamId, t.createdAt, t.scope, t.activity, t.userId, t.client, t.isSystem, t.wasImpersonated),
    index("activity_log_org_time").on(
      t.organizationId,
      t.createdAt,
      t.teamId,
      t.scope,
      t.activity,
      t.userId,
      t.client,
      t.isSystem,
      t.wasImpersonated,
    ),
    // `ip_addresses` (exact or `prefix*`): a range of this index, then the tenant on the row. An
    // ingest batch shares one address, so its rows land side by side here.
    index("activity_log_org_ip").on(t.organizationId, t.ipAddress, t.createdAt),
  ],
);

/** Instance-wide flags. The `first_user` row makes the first-run signup happen at most once. */
export const instanceSettings = sqliteTable("instance_settings", {
  key: text().primaryKey(),
  value: text().notNull(),
});

// ---------------------------------------------------------------------------------------------
// Logs (issue #5). Log timestamps are integer MICROseconds (OTLP carries nanoseconds; µs keep
// sub-millisecond order and still fit a JS number exactly). `log_minute_counts` is maintained in
// the same batch as every insert so counts (alerts, sparklines) read a few pre-aggregated rows
// instead of scanning records; the attribute tables feed `attributes/` and `values/`.
// ---------------------------------------------------------------------------------------------

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
    createdAt: timestamp().notNull(),
    updatedAt: timestamp().notNull(),
  },
  (t) => [
    uniqueIndex("notification_deliveries_event_destination").on(t.eventId, t.destinationId),
    index("notification_deliveries_destination_created").on(t.destinationId, t.createdAt),
    index("notification_deliveries_destination_status").on(t.destinationId, t.status, t.createdAt),
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
    activityIds: json<string[]>().notNull(),
    createdAt: timestamp().notNull(),
  },
  (t) => [index("notification_outbox_created").on(t.createdAt)],
);

// ---------------------------------------------------------------------------------------------
// Approvals (issue #4). Policies say which action needs whose sign-off (a null `team_id` is an
// organization-wide policy). Each change request is owned by its Durable Object (votes, state
// machine); `change_requests` and `change_request_votes` are the D1 mirror the object writes in
// the same batch as its activity rows, so lists and filters never wake an object.
// ---------------------------------------------------------------------------------------------

export type ComparisonOperator = ">" | "<" | ">=" | "<=" | "==" | "!=";
export type PolicyConditions =
  | Record<string, never>
  | { type: "before_after" | "change_amount"; field: string; operator: ComparisonOperator; value: number | string | boolean }
  | { type: "any_change"; field: string };

export interface ApproverConfig {
  users: number[];
  roles: string[];
  quorum: number;
}

/** Values of one field wherever it appears in a resource: `[{path, value}]` (PostHog's intent shape). */
export type FieldValues = { path: string; value: unknown }[];

export interface ChangeIntent {
  current_state: Record<string, FieldValues>;
  gated_changes: Record<string, FieldValues>;
  full_request_data: Record<string, unknown>;
  preconditions: Record<string, unknown>;
  [key: string]: unknown;
}

export interface IntentDisplay {
  description: string;
  before: unknown;
  after: unknown;
}

export interface PolicySnapshot {
  quorum: number;
  users: number[];
  roles: string[];
  allow_self_approve: boolean;
  conditions: PolicyConditions;
  bypass_org_membership_levels: number[];
  bypass_roles: string[];
}

export type ChangeRequestState = "pending" | "approved" | "applied" | "rejected" | "expired" | "failed";
export type ValidationStatus = "valid" | "invalid" | "expired" | "stale";

export const approvalPolicies = sqliteTable(
  "approval_policies",
  {
    id: text().primaryKey(),
    organizationId: text()
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    teamId: integer().references(() => projects.id, { onDelete: "cascade" }),
    actionKey: text().notNull(),
    conditions: json<PolicyConditions>().notNull(),
    approverConfig: json<ApproverConfig>().notNull(),
    allowSelfApprove: integer({ mode: "boolean" }).notNull().default(false),
    bypassOrgMembershipLevels: json<number[]>().notNull(),
    bypassRoles: json<string[]>().notNull(),
    expiresAfterSeconds: integer().notNull(),
    enabled: integer({ mode: "boolean" }).notNull().default(true),
    createdById: integer().references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp().notNull(),
    updatedAt: timestamp().notNull(),
  },
  // Uniqueness per (organization, project or none, action) is an expression index: see migration approvals_indexes.
  (t) => [index("approval_policies_org_action").on(t.organizationId, t.actionKey)],
);

export const changeRequests = sqliteTable(
  "change_requests",
  {
    id: text().primaryKey(),
    organizationId: text()
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    /** Null for organization-level actions (they show in every project of the organization). */
    teamId: integer().references(() => projects.id, { onDelete: "cascade" }),
    actionKey: text().notNull(),
    actionVersion: integer().notNull().default(1),
    resourceType: text().notNull(),
    resourceId: text(),
    intent: json<ChangeIntent>().notNull(),
    intentDisplay: json<IntentDisplay>().notNull(),
    policySnapshot: json<PolicySnapshot>().notNull(),
    /** What the apply needs but no reader may see (a pending key's hash); never serialized. */
    privateData: json<Record<string, unknown>>(),
    validationStatus: text().$type<ValidationStatus>().notNull().default("valid"),
    validationErrors: json<Record<string, unknown>>(),
    validatedAt: timestamp(),
    state: text().$type<ChangeRequestState>().notNull(),
    createdById: integer().references(() => users.id, { onDelete: "set null" }),
    appliedById: integer().references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp().notNull(),
    updatedAt: timestamp().notNull(),
    expiresAt: timestamp().notNull(),
    appliedAt: timestamp(),
    applyError: text().notNull().default(""),
    resultData: json<Record<string, unknown>>(),
  },
  (t) => [
    index("change_requests_org_created").on(t.organizationId, t.createdAt, t.id),
    index("change_requests_state_validated").on(t.state, t.validatedAt),
    // The partial unique index "one open request per action and resource" is in migration approvals_indexes.
  ],
);

export const changeRequestVotes = sqliteTable(
  "change_request_votes",
  {
    id: text().primaryKey(),
    changeRequestId: text()
      .notNull()
      .references(() => changeRequests.id, { onDelete: "cascade" }),
    userId: integer().references(() => users.id, { onDelete: "set null" }),
    decision: text().$type<"approved" | "rejected">().notNull(),
    reason: text().notNull().default(""),
    createdAt: timestamp().notNull(),
  },
  (t) => [uniqueIndex("change_request_votes_request_user").on(t.changeRequestId, t.userId)],
);

// ---------------------------------------------------------------------------------------------
// Logs alerts (issue #7). `logs_alerts` holds each alert's configuration and the mirror of its
// state; the alert's Durable Object runs the checks and keeps the recent history. `version` is
// bumped by every transition a person causes (enable, snooze, threshold change, reset...): a
// check evaluated against an older version is discarded instead of overwriting that transition.
// Disabled and broken alerts have no `next_check_at`, so the cron's due-alert scan never sees them.
// ---------------------------------------------------------------------------------------------

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

export const activityLogFacets = sqliteTable(
  "activity_log_facets",
  {
    organizationId: text().notNull(),
    /** 0 for organization-level rows (`team_id` null). */
    teamId: integer().notNull(),
    /** `user` (value = user id), `client`, `activity` (with its scope), `field` (detail path, with scope and JSON type). */
    kind: text().notNull(),
    scope: text().notNull().default(""),
    value: text().notNull(),
    type: text().notNull().default(""),
  },
  (t) => [primaryKey({ columns: [t.organizationId, t.teamId, t.kind, t.scope, t.value, t.type] })],
);

export const activityNotificationBookmarks = sqliteTable("activity_notification_bookmarks", {
  userId: integer()
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  lastViewedActivityDate: timestamp().notNull(),
});

export const activityIngestKeys = sqliteTable(
  "activity_ingest_keys",
  {
    /** sha256 of (project id, user id, Idempotency-Key header). */
    key: text().primaryKey(),
    requestHash: text().notNull(),
    status: integer().notNull(),
    response: text().notNull(),
    createdAt: timestamp().notNull(),
  },
  (t) => [index("activity_ingest_keys_created").on(t.createdAt)],
);

export const exportJobs = sqliteTable(
  "exports",
  {
    id: text().primaryKey(),
    organizationId: text()
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    /** Null for an organization-wide export. */
    teamId: integer().references(() => projects.id, { onDelete: "cascade" }),
    /** What is exported: `activity_log` (and later `logs`); the consumer dispatches on it. */
    kind: text().notNull(),
    format: text().notNull(),
    filters: json<Record<string, unknown>>().notNull(),
    filename: text().notNull(),
    /** pending -> running -> complete | failed */
    status: text().notNull(),
    rowsWritten: integer().notNull().default(0),
    totalRows: integer(),
    sizeBytes: integer(),
    r2Key: text(),
    attempts: integer().notNull().default(0),
    exception: text(),
    createdById: integer().references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp().notNull(),
    startedAt: timestamp(),
    completedAt: timestamp(),
  },
  (t) => [index("exports_org_created").on(t.organizationId, t.createdAt), index("exports_status_created").on(t.status, t.createdAt)],
);
