import { eq } from "drizzle-orm";
import { type ActivityEntry, commitWithActivity, createdChange, deletedChange, diffChanges, writeContext } from "../activity/record";
import { approvalGate } from "../approvals/gate";
import { changeIntent } from "../approvals/registry";
import { type Organization, organizationAccess } from "../auth/access";
import { MembershipLevel } from "../auth/levels";
import { createDb, type Db } from "../db/client";
import { organizationMemberships, organizations, projects } from "../db/schema";
import { uuidv7 } from "../lib/ids";
import { limitOffsetPage } from "../lib/pagination";
import { createRouter } from "../lib/router";
import { isoRequired } from "../lib/time";
import { newProject } from "../projects/projects.queries";
import { listOrganizationsForUser, loadOrganizationRelations, serializeOrganization, uniqueSlug } from "./organizations.queries";
import {
  createOrganization,
  deleteOrganization,
  getOrganization,
  listOrganizations,
  type OrganizationUpdate,
  updateOrganization,
} from "./organizations.routes";

const SCOPE = "Organization";

/** API field name -> drizzle column key, for the writable settings. */
const WRITABLE_FIELDS = {
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

function columnValues(body: OrganizationUpdate) {
  const values: Partial<typeof organizations.$inferInsert> = {};
  for (const [field, column] of Object.entries(WRITABLE_FIELDS)) {
    const value = body[field as keyof OrganizationUpdate];
    if (value !== undefined) Object.assign(values, { [column]: value });
  }
  return values;
}

function writableView(org: Organization): Record<string, unknown> {
  return Object.fromEntries(Object.entries(WRITABLE_FIELDS).map(([field, column]) => [field, org[column]]));
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

const organizationTarget = (organization: Organization) => [{ organizationId: organization.id, teamId: null }];

async function present(db: ReturnType<typeof createDb>, organizationId: string, level: number) {
  const [org] = await db.select().from(organizations).where(eq(organizations.id, organizationId));
  if (!org) throw new Error(`organization ${organizationId} vanished`);
  return serializeOrganization(org, level, await loadOrganizationRelations(db, [org.id]));
}

export const organizationsRouter = createRouter()
  .openapi(listOrganizations, async (c) => {
    const db = createDb(c.env.DB);
    const page = c.req.valid("query");
    const { rows, count } = await listOrganizationsForUser(db, c.var.auth.user.id, page.limit, page.offset);
    const relations = await loadOrganizationRelations(
      db,
      rows.map((r) => r.organization.id),
    );
    const results = rows.map((r) => serializeOrganization(r.organization, r.level, relations));
    return c.json(limitOffsetPage(c.req.url, page, count, results), 200);
  })
  .openapi(createOrganization, async (c) => {
    const db = createDb(c.env.DB);
    const body = c.req.valid("json");
    const now = new Date();
    const id = uuidv7();
    const project = newProject(id, "Default project", body.timezone);
    await commitWithActivity(
      writeContext(c, db),
      [
        db.insert(organizations).values({
          ...columnValues(body),
          id,
          name: body.name,
          slug: await uniqueSlug(db, body.name),
          createdAt: now,
          updatedAt: now,
        }),
        db.insert(organizationMemberships).values({
          id: uuidv7(),
          organizationId: id,
          userId: c.var.auth.user.id,
          level: MembershipLevel.owner,
          joinedAt: now,
          updatedAt: now,
        }),
        db.insert(projects).values(project.values),
      ],
      [
        { organizationId: id, scope: SCOPE, activity: "created", itemId: id, detail: { name: body.name, changes: createdChange(SCOPE) } },
        {
          organizationId: id,
          teamId: project.idSql,
          scope: "Project",
          activity: "created",
          itemId: project.idSql,
          detail: { name: project.values.name, changes: createdChange("Project") },
        },
      ],
    );
    return c.json(await present(db, id, MembershipLevel.owner), 201);
  })
  .openapi(getOrganization, async (c) => {
    const { organization, level } = await organizationAccess(c, c.req.valid("param").id);
    const relations = await loadOrganizationRelations(createDb(c.env.DB), [organization.id]);
    return c.json(serializeOrganization(organization, level, relations), 200);
  })
  .openapi(updateOrganization, async (c) => {
    const { organization, level } = await organizationAccess(c, c.req.valid("param").id, MembershipLevel.admin);
    const db = createDb(c.env.DB);
    const body = c.req.valid("json");
    const plan = planOrganizationUpdate(db, organization, body);
    if (plan) {
      await approvalGate(c, {
        actionKey: "organization.update",
        targets: organizationTarget(organization),
        resourceId: organization.id,
        intent: changeIntent({
          name: organization.name,
          before: Object.fromEntries(plan.changes.map((ch) => [ch.field, ch.before])),
          after: Object.fromEntries(plan.changes.map((ch) => [ch.field, ch.after])),
          request: body,
          preconditions: { updated_at: isoRequired(organization.updatedAt) },
          method: "PATCH",
        }),
      });
      await commitWithActivity(writeContext(c, db), plan.writes, plan.entries);
    }
    return c.json(await present(db, organization.id, level), 200);
  })
  .openapi(deleteOrganization, async (c) => {
    const { organization } = await organizationAccess(c, c.req.valid("param").id, MembershipLevel.owner);
    const db = createDb(c.env.DB);
    await approvalGate(c, {
      actionKey: "organization.delete",
      targets: organizationTarget(organization),
      resourceId: organization.id,
      intent: changeIntent({
        name: organization.name,
        before: { name: organization.name },
        after: {},
        request: {},
        preconditions: { updated_at: isoRequired(organization.updatedAt) },
        method: "DELETE",
      }),
    });
    const plan = planOrganizationDelete(db, organization);
    await commitWithActivity(writeContext(c, db), plan.writes, plan.entries);
    return c.body(null, 204);
  });
