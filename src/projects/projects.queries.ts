import { type SQL, sql } from "drizzle-orm";
import type { Project } from "../auth/context";
import type { projects } from "../db/schema";
import { randomToken, uuidv7 } from "../lib/ids";
import { isoRequired } from "../lib/time";

export const newApiToken = () => `phc_${randomToken(43)}`;

/**
 * Values for a new project, plus an SQL expression for its integer id so that statements in the
 * same batch (memberships, activity rows) can reference a row whose id D1 has not assigned yet.
 */
export function newProject(organizationId: string, name: string, timezone = "UTC") {
  const now = new Date();
  const uuid = uuidv7();
  const values: typeof projects.$inferInsert = {
    uuid,
    organizationId,
    name,
    apiToken: newApiToken(),
    timezone,
    createdAt: now,
    updatedAt: now,
  };
  const idSql: SQL = sql`(select id from projects where uuid = ${uuid})`;
  return { values, idSql };
}

export function serializeProject(project: Project) {
  return {
    id: project.id,
    uuid: project.uuid,
    organization: project.organizationId,
    name: project.name,
    api_token: project.apiToken,
    timezone: project.timezone,
    logs_retention_days: project.logsRetentionDays,
    receive_org_level_activity_logs: project.receiveOrgLevelActivityLogs,
    created_at: isoRequired(project.createdAt),
    updated_at: isoRequired(project.updatedAt),
  };
}
