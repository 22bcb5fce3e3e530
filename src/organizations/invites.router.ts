import { and, count, desc, eq } from "drizzle-orm";
import { commitWithActivity, createdChange, deletedChange, writeContext } from "../audit/record";
import { organizationAccess } from "../auth/access";
import type { User } from "../auth/context";
import { MembershipLevel } from "../auth/levels";
import { createDb } from "../db/client";
import { organizationInvites, users } from "../db/schema";
import { createRouter } from "../http/router";
import { notFound, permissionDenied } from "../lib/errors";
import { sha256Hex, uuidv7 } from "../lib/ids";
import { limitOffsetPage } from "../lib/pagination";
import { isoRequired } from "../lib/time";
import { serializeUserBasic } from "../users";
import { createInvite, deleteInvite, listInvites } from "./invites.routes";
import { INVITE_VALIDITY_MS, newInviteToken } from "./invites.service";

const SCOPE = "OrganizationInvite" as const;

function serializeInvite(invite: typeof organizationInvites.$inferSelect, creator: User | null) {
  return {
    id: invite.id,
    target_email: invite.targetEmail,
    first_name: invite.firstName,
    emailing_attempt_made: false,
    level: invite.level,
    is_expired: Date.now() - invite.createdAt.getTime() > INVITE_VALIDITY_MS,
    created_by: creator ? serializeUserBasic(creator) : null,
    created_at: isoRequired(invite.createdAt),
    updated_at: isoRequired(invite.updatedAt),
    message: invite.message,
  };
}

export const invitesRouter = createRouter()
  .openapi(listInvites, async (c) => {
    const { organization } = await organizationAccess(c, c.req.valid("param").id);
    const page = c.req.valid("query");
    const db = createDb(c.env.DB);
    const inOrg = eq(organizationInvites.organizationId, organization.id);
    const [rows, [total]] = await Promise.all([
      db
        .select({ invite: organizationInvites, creator: users })
        .from(organizationInvites)
        .leftJoin(users, eq(users.id, organizationInvites.createdById))
        .where(inOrg)
        .orderBy(desc(organizationInvites.createdAt))
        .limit(page.limit)
        .offset(page.offset),
      db.select({ n: count() }).from(organizationInvites).where(inOrg),
    ]);
    const results = rows.map((r) => serializeInvite(r.invite, r.creator));
    return c.json(limitOffsetPage(c.req.url, page, total?.n ?? 0, results), 200);
  })
  .openapi(createInvite, async (c) => {
    const { organization, level } = await organizationAccess(c, c.req.valid("param").id);
    const body = c.req.valid("json");
    if (level < MembershipLevel.admin && organization.membersCanInvite === false) {
      throw permissionDenied("Only admins can invite members to this organization.");
    }
    const inviteLevel = body.level ?? MembershipLevel.member;
    if (inviteLevel > level) throw permissionDenied("You can only invite someone at or below your own level.");
    const db = createDb(c.env.DB);
    const now = new Date();
    const token = newInviteToken();
    const invite = {
      id: uuidv7(),
      organizationId: organization.id,
      targetEmail: body.target_email,
      firstName: body.first_name ?? "",
      level: inviteLevel,
      message: body.message ?? null,
      tokenHash: await sha256Hex(token),
      createdById: c.var.auth.user.id,
      createdAt: now,
      updatedAt: now,
    };
    const sameEmail = and(eq(organizationInvites.organizationId, organization.id), eq(organizationInvites.targetEmail, invite.targetEmail));
    const replaced = await db.select({ id: organizationInvites.id }).from(organizationInvites).where(sameEmail);
    await commitWithActivity(
      writeContext(c, db),
      [db.delete(organizationInvites).where(sameEmail), db.insert(organizationInvites).values(invite)],
      [
        ...replaced.map((r) => ({
          organizationId: organization.id,
          scope: SCOPE,
          activity: "deleted",
          itemId: r.id,
          detail: { name: invite.targetEmail, changes: deletedChange(SCOPE), context: { replaced_by: invite.id } },
        })),
        {
          organizationId: organization.id,
          scope: SCOPE,
          activity: "created",
          itemId: invite.id,
          detail: { name: invite.targetEmail, changes: createdChange(SCOPE, { target_email: invite.targetEmail, level: inviteLevel }) },
        },
      ],
    );
    return c.json({ ...serializeInvite(invite, c.var.auth.user), invite_token: token }, 201);
  })
  .openapi(deleteInvite, async (c) => {
    const params = c.req.valid("param");
    const { organization, level } = await organizationAccess(c, params.id);
    const db = createDb(c.env.DB);
    const [invite] = await db
      .select()
      .from(organizationInvites)
      .where(and(eq(organizationInvites.id, params.invite_id), eq(organizationInvites.organizationId, organization.id)));
    if (!invite) throw notFound();
    if (level < MembershipLevel.admin && invite.createdById !== c.var.auth.user.id) {
      throw permissionDenied("Only admins or the invite's creator can revoke it.");
    }
    await commitWithActivity(
      writeContext(c, db),
      [db.delete(organizationInvites).where(eq(organizationInvites.id, invite.id))],
      [
        {
          organizationId: organization.id,
          scope: SCOPE,
          activity: "deleted",
          itemId: invite.id,
          detail: { name: invite.targetEmail, changes: deletedChange(SCOPE) },
        },
      ],
    );
    return c.body(null, 204);
  });
