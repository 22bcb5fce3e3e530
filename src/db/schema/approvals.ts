import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { organizations, projects, users } from "./accounts";
import { json, timestamp } from "./columns";

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
