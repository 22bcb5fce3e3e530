import { and, eq } from "drizzle-orm";
import { type ActivityEntry, deletedChange, diffChanges } from "../audit/record";
import type { Organization } from "../auth/context";
import type { Db } from "../db/client";
import { organizations, roles } from "../db/schema";
import { validationError } from "../lib/errors";
import type { OrganizationUpdate } from "./organizations.routes";

export const SCOPE = "Organization";

/** API field name -> drizzle column key, for the writable settings. */
export const WRITABLE_FIELDS = {
  name: "name",
  logo_media_id: "logoMediaId",
  enforce_2fa: "enforce2fa",
  members_can_invite: "membersCanInvite",
  members_can_use_personal_api_keys: "membersCanUsePersonalApiKeys",
  allow_publicly_shared_resources: "allowPubliclySharedResources",
  is_member_join_email_enabled: "isMemberJoinEmailEnabled",
  is_ai_data_processing_approved: "isAiDataProcessingApproved",
  is_ai_training_opted_in: "isAiTrainingOptedIn",
  default_experiment_stats_method: "defaultExperimentStatsMethod",
  default_anonymize_ips: "defaultAnonymizeIps",
  default_role_id: "defaultRoleId",
  timezone: "timezone",
  activity_log_retention_days: "activityLogRetentionDays",
} as const satisfies Record<keyof OrganizationUpdate, keyof typeof organizations.$inferSelect>;

export function columnValues(body: OrganizationUpdate) {
  const values: Partial<typeof organizations.$inferInsert> = {};
  for (const [field, column] of Object.entries(WRITABLE_FIELDS)) {
    const value = body[field as keyof OrganizationUpdate];
    if (value !== undefined) Object.assign(values, { [column]: value });
  }
  return values;
}

export function writableView(org: Organization): Record<string, unknown> {
  return Object.fromEntries(Object.entries(WRITABLE_FIELDS).map(([field, column]) => [field, org[column]]));
}

/** `default_role_id` names a role of this organization (a new organization has none yet). */
export async function assertDefaultRoleInOrganization(db: Db, organizationId: string | null, body: OrganizationUpdate) {
  if (!body.default_role_id) return;
  const [role] = organizationId
    ? await db
        .select({ id: roles.id })
        .from(roles)
        .where(and(eq(roles.id, body.default_role_id), eq(roles.organizationId, organizationId)))
    : [];
  if (!role) throw validationError("This role does not exist in this organization.", "default_role_id");
}

/** An update's writes and activity (null when nothing changes); the approval apply reuses it. */
export function planOrganizationUpdate(db: Db, organization: Organization, body: OrganizationUpdate) {
  const changes = diffChanges(SCOPE, writableView(organization), { ...writableView(organization), ...body }, { fields: Object.keys(body) });
  if (!changes.length) return null;
  const entries: ActivityEntry[] = [
    {
      organizationId: organization.id,
      scope: SCOPE,
      activity: "updated",
      itemId: organization.id,
      detail: { name: body.name ?? organization.name, changes },
    },
  ];
  const write = db
    .update(organizations)
    .set({ ...columnValues(body), updatedAt: new Date() })
    .where(eq(organizations.id, organization.id));
  return { changes, writes: [write], entries };
}

export function planOrganizationDelete(db: Db, organization: Organization) {
  const entries: ActivityEntry[] = [
    {
      organizationId: organization.id,
      scope: SCOPE,
      activity: "deleted",
      itemId: organization.id,
      detail: { name: organization.name, changes: deletedChange(SCOPE) },
    },
  ];
  return { writes: [db.delete(organizations).where(eq(organizations.id, organization.id))], entries };
}
