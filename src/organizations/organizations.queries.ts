import { and, count, desc, eq, sql } from "drizzle-orm";
import type { Organization } from "../auth/context";
import type { Db } from "../db/client";
import { inList } from "../db/in-list";
import { organizationMemberships, organizations, projects } from "../db/schema";
import { isoRequired } from "../lib/time";

export interface OrganizationRelations {
  projectsByOrg: Map<string, { id: number; uuid: string; organization: string; name: string }[]>;
  memberCounts: Map<string, number>;
}

/** Projects and member counts for a page of organizations, in two queries whatever the page size. */
export async function loadOrganizationRelations(db: Db, organizationIds: string[]): Promise<OrganizationRelations> {
  if (!organizationIds.length) return { projectsByOrg: new Map(), memberCounts: new Map() };
  const [projectRows, countRows] = await Promise.all([
    db
      .select({ id: projects.id, uuid: projects.uuid, organization: projects.organizationId, name: projects.name })
      .from(projects)
      .where(inList(projects.organizationId, organizationIds))
      .orderBy(projects.id),
    db
      .select({ organizationId: organizationMemberships.organizationId, members: count() })
      .from(organizationMemberships)
      .where(inList(organizationMemberships.organizationId, organizationIds))
      .groupBy(organizationMemberships.organizationId),
  ]);
  const projectsByOrg = new Map<string, (typeof projectRows)[number][]>();
  for (const row of projectRows) projectsByOrg.set(row.organization, [...(projectsByOrg.get(row.organization) ?? []), row]);
  return { projectsByOrg, memberCounts: new Map(countRows.map((r) => [r.organizationId, r.members])) };
}

export function serializeOrganization(org: Organization, level: number | null, relations: OrganizationRelations) {
  const orgProjects = relations.projectsByOrg.get(org.id) ?? [];
  return {
    id: org.id,
    name: org.name,
    slug: org.slug,
    logo_media_id: org.logoMediaId,
    created_at: isoRequired(org.createdAt),
    updated_at: isoRequired(org.updatedAt),
    membership_level: level,
    // This service has no plugin system; 9 ("root") states that nothing is restricted.
    plugins_access_level: 9,
    teams: orgProjects,
    projects: orgProjects,
    available_product_features: [] as string[],
    is_member_join_email_enabled: org.isMemberJoinEmailEnabled,
    metadata: org.metadata ?? {},
    customer_id: org.customerId,
    enforce_2fa: org.enforce2fa,
    members_can_invite: org.membersCanInvite,
    members_can_use_personal_api_keys: org.membersCanUsePersonalApiKeys,
    allow_publicly_shared_resources: org.allowPubliclySharedResources,
    member_count: relations.memberCounts.get(org.id) ?? 0,
    is_ai_data_processing_approved: org.isAiDataProcessingApproved,
    is_ai_training_opted_in: org.isAiTrainingOptedIn,
    is_ai_training_locked: false,
    is_ai_training_cta_shown: false,
    is_hipaa: false,
    default_experiment_stats_method: org.defaultExperimentStatsMethod as "bayesian" | "frequentist",
    default_anonymize_ips: org.defaultAnonymizeIps,
    default_role_id: org.defaultRoleId,
    is_active: true,
    is_not_active_reason: null,
    is_pending_deletion: false,
    timezone: org.timezone,
    activity_log_retention_days: org.activityLogRetentionDays,
  };
}

/** The user's organizations, only those of `scopedOrganizations` when the key is restricted to some. */
export async function listOrganizationsForUser(
  db: Db,
  userId: number,
  scopedOrganizations: string[] | null,
  limit: number,
  offset: number,
) {
  const mine = and(
    eq(organizationMemberships.userId, userId),
    scopedOrganizations?.length ? inList(organizationMemberships.organizationId, scopedOrganizations) : undefined,
  );
  const [rows, [total]] = await Promise.all([
    db
      .select({ organization: organizations, level: organizationMemberships.level })
      .from(organizationMemberships)
      .innerJoin(organizations, eq(organizations.id, organizationMemberships.organizationId))
      .where(mine)
      .orderBy(desc(organizationMemberships.joinedAt), organizations.id)
      .limit(limit)
      .offset(offset),
    db.select({ n: count() }).from(organizationMemberships).where(mine),
  ]);
  return { rows, count: total?.n ?? 0 };
}

/** A URL-safe slug unique among organizations: the name's slug, suffixed when taken. */
export async function uniqueSlug(db: Db, name: string): Promise<string> {
  const base =
    name
      .toLowerCase()
      .normalize("NFKD")
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 40) || "org";
  const taken = await db
    .select({ slug: organizations.slug })
    .from(organizations)
    .where(sql`${organizations.slug} = ${base} or ${organizations.slug} like ${`${base}-%`}`);
  const used = new Set(taken.map((t) => t.slug));
  if (!used.has(base)) return base;
  for (let n = 2; ; n++) if (!used.has(`${base}-${n}`)) return `${base}-${n}`;
}
