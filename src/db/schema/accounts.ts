import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { json, timestamp } from "./columns";

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
    /** SHA-256 of the signup token, which only the create answer shows (null: made before tokens; not redeemable). */
    tokenHash: text(),
    createdById: integer().references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp().notNull(),
    updatedAt: timestamp().notNull(),
  },
  (t) => [index("organization_invites_org").on(t.organizationId, t.createdAt), uniqueIndex("organization_invites_token").on(t.tokenHash)],
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
    /** PostHog's "Include organization-level activity": the project's activity log and notifications get the organization's rows. */
    receiveOrgLevelActivityLogs: integer({ mode: "boolean" }).notNull().default(false),
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
    /** "personal", or "viewer": a read-only link minted by an organization admin for the web viewer. */
    kind: text({ enum: ["personal", "viewer"] })
      .notNull()
      .default("personal"),
    /** Viewer links stop working at this time; personal keys never expire. */
    expiresAt: timestamp(),
  },
  (t) => [index("personal_api_keys_user").on(t.userId, t.createdAt)],
);

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
