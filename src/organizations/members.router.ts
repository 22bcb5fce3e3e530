import { createRoute, z } from "@hono/zod-openapi";
import { and, count, eq, inArray } from "drizzle-orm";
import { type ActivityEntry, commitWithActivity, deletedChange, diffChanges, writeContext } from "../activity/record";
import { approvalGateResponses } from "../approvals/approvals.schemas";
import { approvalGate } from "../approvals/gate";
import { changeIntent } from "../approvals/registry";
import { organizationAccess } from "../auth/access";
import { MEMBERSHIP_LEVELS, MembershipLevel } from "../auth/levels";
import { createDb, type Db } from "../db/client";
import { organizationMemberships, roleMemberships, roles, users } from "../db/schema";
import { notFound, permissionDenied, validationError } from "../lib/errors";
import { errorResponses, json, jsonBody, secured } from "../lib/openapi";
import { LimitOffsetQuery, limitOffsetPage, paginated } from "../lib/pagination";
import { createRouter } from "../lib/router";
import { isoRequired } from "../lib/time";
import { serializeUserBasic, UserBasicSchema } from "../users/users.schemas";
import { OrganizationIdParams } from "./organizations.routes";

const SCOPE = "OrganizationMembership";

const MemberSchema = z
  .object({
    id: z.string().uuid(),
    user: UserBasicSchema,
    level: z.number().int(),
    joined_at: z.string(),
    updated_at: z.string(),
    is_2fa_enabled: z.boolean(),
    has_social_auth: z.boolean(),
  })
  .openapi("OrganizationMember");

const MemberParams = OrganizationIdParams.extend({
  user_uuid: z.string().openapi({ param: { name: "user_uuid", in: "path" } }),
});

const MemberUpdateSchema = z
  .object({
    level: z
      .number()
      .int()
      .refine((l) => (MEMBERSHIP_LEVELS as readonly number[]).includes(l), "Level must be 1 (member), 8 (admin) or 15 (owner)."),
  })
  .strict()
  .openapi("OrganizationMemberUpdate");

const tags = ["organization members"];
const base = "/api/organizations/{id}/members";

const listMembers = createRoute({
  method: "get",
  path: base,
  tags,
  summary: "List the organization's members",
  ...secured("organization_member:read"),
  request: { params: OrganizationIdParams, query: LimitOffsetQuery },
  responses: { 200: json(paginated(MemberSchema), "Members"), ...errorResponses },
});

const updateMember = createRoute({
  method: "patch",
  path: `${base}/{user_uuid}`,
  tags,
  summary: "Change a member's level (admins; never above your own level, never your own membership)",
  ...secured("organization_member:write"),
  request: { params: MemberParams, body: jsonBody(MemberUpdateSchema) },
  responses: { 200: json(MemberSchema, "Member"), ...errorResponses, ...approvalGateResponses },
});

const removeMember = createRoute({
  method: "delete",
  path: `${base}/{user_uuid}`,
  tags,
  summary: "Remove a member (admins, for members below their level) or leave the organization yourself",
  ...secured("organization_member:write"),
  request: { params: MemberParams },
  responses: { 204: { description: "Removed" }, ...errorResponses },
});

export type MemberRow = { membership: typeof organizationMemberships.$inferSelect; user: typeof users.$inferSelect };

function serializeMember({ membership, user }: MemberRow) {
  return {
    id: membership.id,
    user: serializeUserBasic(user),
    level: membership.level,
    joined_at: isoRequired(membership.joinedAt),
    updated_at: isoRequired(membership.updatedAt),
    is_2fa_enabled: false,
    has_social_auth: false,
  };
}

export async function findMember(db: Db, organizationId: string, userUuid: string): Promise<MemberRow> {
  const [row] = await db
    .select({ membership: organizationMemberships, user: users })
    .from(organizationMemberships)
    .innerJoin(users, eq(users.id, organizationMemberships.userId))
    .where(and(eq(organizationMemberships.organizationId, organizationId), eq(users.uuid, userUuid)));
  if (!row) throw notFound();
  return row;
}

/** Who may set whom to which level; throws the handler's errors. The approval apply re-checks with it. */
export function assertLevelChangeAllowed(actorId: number, actorLevel: number, target: MemberRow, newLevel: number) {
  if (target.user.id === actorId) throw permissionDenied("You can't change your own access level.");
  if (newLevel > actorLevel)
    throw validationError("You can only change access level of others to lower or equal to your current one.", "level");
  if (target.membership.level > actorLevel) throw permissionDenied("You can only edit others with level lower or equal to you.");
}

/** A level change's writes and activity (null when the level stays); shared with the approval apply. */
export function planMemberLevelUpdate(db: Db, organizationId: string, target: MemberRow, newLevel: number) {
  const changes = diffChanges(SCOPE, { level: target.membership.level }, { level: newLevel });
  if (!changes.length) return null;
  const entries: ActivityEntry[] = [
    { organizationId, scope: SCOPE, activity: "updated", itemId: target.user.uuid, detail: { name: target.user.email, changes } },
  ];
  const write = db
    .update(organizationMemberships)
    .set({ level: newLevel, updatedAt: new Date() })
    .where(eq(organizationMemberships.id, target.membership.id));
  return { writes: [write], entries };
}

export const membersRouter = createRouter()
  .openapi(listMembers, async (c) => {
    const { organization } = await organizationAccess(c, c.req.valid("param").id);
    const page = c.req.valid("query");
    const db = createDb(c.env.DB);
    const inOrg = eq(organizationMemberships.organizationId, organization.id);
    const [rows, [total]] = await Promise.all([
      db
        .select({ membership: organizationMemberships, user: users })
        .from(organizationMemberships)
        .innerJoin(users, eq(users.id, organizationMemberships.userId))
        .where(inOrg)
        .orderBy(organizationMemberships.joinedAt, organizationMemberships.id)
        .limit(page.limit)
        .offset(page.offset),
      db.select({ n: count() }).from(organizationMemberships).where(inOrg),
    ]);
    return c.json(limitOffsetPage(c.req.url, page, total?.n ?? 0, rows.map(serializeMember)), 200);
  })
  .openapi(updateMember, async (c) => {
    const params = c.req.valid("param");
    const { organization, level } = await organizationAccess(c, params.id, MembershipLevel.admin);
    const { level: newLevel } = c.req.valid("json");
    const db = createDb(c.env.DB);
    const target = await findMember(db, organization.id, params.user_uuid);
    assertLevelChangeAllowed(c.var.auth.user.id, level, target, newLevel);
    const plan = planMemberLevelUpdate(db, organization.id, target, newLevel);
    if (plan) {
      await approvalGate(c, {
        actionKey: "organization_member.update",
        targets: [{ organizationId: organization.id, teamId: null }],
        resourceId: target.user.uuid,
        intent: changeIntent({
          name: target.user.email,
          before: { level: target.membership.level },
          after: { level: newLevel },
          request: { level: newLevel },
          preconditions: { level: target.membership.level, updated_at: isoRequired(target.membership.updatedAt) },
          method: "PATCH",
        }),
      });
      await commitWithActivity(writeContext(c, db), plan.writes, plan.entries);
    }
    return c.json(serializeMember(await findMember(db, organization.id, params.user_uuid)), 200);
  })
  .openapi(removeMember, async (c) => {
    const params = c.req.valid("param");
    const { organization, level } = await organizationAccess(c, params.id);
    const db = createDb(c.env.DB);
    const target = await findMember(db, organization.id, params.user_uuid);
    const leaving = target.user.id === c.var.auth.user.id;
    if (!leaving) {
      if (level < MembershipLevel.admin) throw permissionDenied("Only admins can remove members.");
      if (target.membership.level >= level && level < MembershipLevel.owner) {
        throw permissionDenied("You can only remove members with a level lower than yours.");
      }
    }
    if (target.membership.level === MembershipLevel.owner) {
      const [owners] = await db
        .select({ n: count() })
        .from(organizationMemberships)
        .where(and(eq(organizationMemberships.organizationId, organization.id), eq(organizationMemberships.level, MembershipLevel.owner)));
      if ((owners?.n ?? 0) <= 1) throw validationError("The organization's last owner cannot be removed.");
    }
    const orgRoleIds = db.select({ id: roles.id }).from(roles).where(eq(roles.organizationId, organization.id));
    await commitWithActivity(
      writeContext(c, db),
      [
        db.delete(organizationMemberships).where(eq(organizationMemberships.id, target.membership.id)),
        db.delete(roleMemberships).where(and(eq(roleMemberships.userId, target.user.id), inArray(roleMemberships.roleId, orgRoleIds))),
      ],
      [
        {
          organizationId: organization.id,
          scope: SCOPE,
          activity: leaving ? "left" : "deleted",
          itemId: target.user.uuid,
          detail: { name: target.user.email, changes: deletedChange(SCOPE, { level: target.membership.level }) },
        },
      ],
    );
    return c.body(null, 204);
  });
