import { and, count, eq, inArray } from "drizzle-orm";
import { approvalGate, changeIntent } from "../approvals";
import { commitWithActivity, deletedChange, writeContext } from "../audit/record";
import { organizationAccess } from "../auth/access";
import { MembershipLevel } from "../auth/levels";
import { createDb } from "../db/client";
import { organizationMemberships, roleMemberships, roles, users } from "../db/schema";
import { createRouter } from "../http/router";
import { permissionDenied, validationError } from "../lib/errors";
import { limitOffsetPage } from "../lib/pagination";
import { isoRequired } from "../lib/time";
import { listMembers, removeMember, updateMember } from "./members.routes";
import { assertLevelChangeAllowed, findMember, planMemberLevelUpdate, SCOPE, serializeMember } from "./members.service";

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
