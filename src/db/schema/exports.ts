import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { organizations, projects, users } from "./accounts";
import { json, timestamp } from "./columns";

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
