import { and, eq, sql } from "drizzle-orm";
import { type ActivityEntry, commitWithActivity, createdChange, writeContext } from "../audit/record";
import { MembershipLevel } from "../auth/levels";
import { createDb } from "../db/client";
import {
  instanceSettings,
  organizationInvites,
  organizationMemberships,
  organizations,
  personalApiKeys,
  projects,
  roleMemberships,
  roles,
  users,
} from "../db/schema";
import { clientIp, enforceRateLimit } from "../http/rate-limit";
import { createRouter } from "../http/router";
import { permissionDenied, validationError } from "../lib/errors";
import { sha256Hex, uuidv7 } from "../lib/ids";
import { INVITE_VALIDITY_MS, loadOrganizationRelations, serializeOrganization, uniqueSlug } from "../organizations";
import { newPersonalApiKey } from "../personal-api-keys";
import { newProject, serializeProject } from "../projects";
import { serializeUserBasic } from "../users";
import { signup } from "./signup.routes";

// Invites are valid for three days, as PostHog's.

const FIRST_USER_FLAG = "first_user";

export const signupRouter = createRouter();

// Per client IP, before the body is even read: signup is the one route open to anyone.
signupRouter.use("/api/signup", async (c, next) => {
  await enforceRateLimit(c.env, "SIGNUP_RATE_LIMITER", clientIp(c));
  await next();
});

signupRouter.openapi(signup, async (c) => {
  const db = createDb(c.env.DB);
  const body = c.req.valid("json");
  const now = new Date();
  const userUuid = uuidv7();
  const userIdSql = sql`(select id from users where uuid = ${userUuid})`;
  const userValues: typeof users.$inferInsert = {
    uuid: userUuid,
    distinctId: uuidv7(),
    email: body.email,
    firstName: body.first_name,
    lastName: body.last_name ?? "",
    createdAt: now,
  };
  const [existing] = await db.select({ id: users.id }).from(users).where(eq(users.email, body.email)).limit(1);
  if (existing && body.invite_token) throw validationError("A user with this email already exists.", "email");

  const key = await newPersonalApiKey({ userId: userIdSql, label: "Default key", scopes: ["*"] });
  const keyActivity = (organizationId: string): ActivityEntry => ({
    organizationId,
    scope: "PersonalAPIKey",
    activity: "created",
    itemId: key.row.id,
    userId: userIdSql,
    detail: { name: key.row.label, changes: createdChange("PersonalAPIKey", { scopes: key.row.scopes, value: "masked" }) },
  });
  const ctx = writeContext(c, db);
  let organizationId: string;
  let level: number;

  if (body.invite_token) {
    const tokenHash = await sha256Hex(body.invite_token);
    const [invite] = await db.select().from(organizationInvites).where(eq(organizationInvites.tokenHash, tokenHash)).limit(1);
    if (!invite || now.getTime() - invite.createdAt.getTime() > INVITE_VALIDITY_MS) {
      throw validationError("This invite is invalid or has expired.", "invite_token");
    }
    if (invite.targetEmail.toLowerCase() !== body.email) {
      throw validationError("This invite was sent to a different email address.", "email");
    }
    organizationId = invite.organizationId;
    level = invite.level;
    // The organization's default role (seed 001 `default_role_id`) takes every member who joins.
    const [defaultRole] = await db
      .select({ id: roles.id, name: roles.name })
      .from(organizations)
      .innerJoin(roles, and(eq(roles.id, organizations.defaultRoleId), eq(roles.organizationId, organizations.id)))
      .where(eq(organizations.id, organizationId))
      .limit(1);
    await commitWithActivity(
      ctx,
      [
        db.insert(users).values(userValues),
        db
          .insert(organizationMemberships)
          .values({ id: uuidv7(), organizationId, userId: userIdSql, level, joinedAt: now, updatedAt: now }),
        db.insert(personalApiKeys).values(key.row),
        db.delete(organizationInvites).where(eq(organizationInvites.id, invite.id)),
        ...(defaultRole
          ? [db.insert(roleMemberships).values({ id: uuidv7(), roleId: defaultRole.id, userId: userIdSql, joinedAt: now })]
          : []),
      ],
      [
        {
          organizationId,
          scope: "OrganizationMembership",
          activity: "joined",
          itemId: userUuid,
          userId: userIdSql,
          detail: { name: body.email, changes: createdChange("OrganizationMembership", { level }), context: { invite_id: invite.id } },
        },
        keyActivity(organizationId),
        ...(defaultRole
          ? [
              {
                organizationId,
                scope: "Role" as const,
                activity: "member_added",
                itemId: defaultRole.id,
                userId: userIdSql,
                detail: {
                  name: defaultRole.name,
                  changes: [{ type: "Role", action: "changed" as const, field: "members", after: body.email }],
                },
              },
            ]
          : []),
      ],
    );
  } else {
    if (existing) throw signupClosed();
    const [flag] = await db.select().from(instanceSettings).where(eq(instanceSettings.key, FIRST_USER_FLAG)).limit(1);
    if (flag) throw signupClosed();
    if (c.env.ALLOW_OPEN_FIRST_SIGNUP !== "true" && !(await bootstrapTokenMatches(c.env.BOOTSTRAP_TOKEN, body.bootstrap_token))) {
      throw permissionDenied("The first signup of this instance needs its bootstrap token (the BOOTSTRAP_TOKEN secret).");
    }
    organizationId = uuidv7();
    level = MembershipLevel.owner;
    const orgName = body.organization_name ?? `${body.first_name}'s organization`;
    const project = newProject(organizationId, body.project_name ?? "Default project");
    try {
      await commitWithActivity(
        ctx,
        [
          // The primary key makes a concurrent second first-run signup fail as a whole.
          db
            .insert(instanceSettings)
            .values({ key: FIRST_USER_FLAG, value: userUuid }),
          db.insert(users).values(userValues),
          db.insert(organizations).values({
            id: organizationId,
            name: orgName,
            slug: await uniqueSlug(db, orgName),
            createdAt: now,
            updatedAt: now,
          }),
          db
            .insert(organizationMemberships)
            .values({ id: uuidv7(), organizationId, userId: userIdSql, level, joinedAt: now, updatedAt: now }),
          db.insert(projects).values(project.values),
          db.insert(personalApiKeys).values(key.row),
        ],
        [
          {
            organizationId,
            scope: "Organization",
            activity: "created",
            itemId: organizationId,
            userId: userIdSql,
            detail: { name: orgName, changes: createdChange("Organization") },
          },
          {
            organizationId,
            teamId: project.idSql,
            scope: "Project",
            activity: "created",
            itemId: project.idSql,
            userId: userIdSql,
            detail: { name: project.values.name, changes: createdChange("Project") },
          },
          keyActivity(organizationId),
        ],
      );
    } catch (error) {
      if (String(error).includes("UNIQUE")) throw signupClosed();
      throw error;
    }
  }

  const [user] = await db.select().from(users).where(eq(users.uuid, userUuid));
  const [organization] = await db.select().from(organizations).where(eq(organizations.id, organizationId));
  const [project] = await db.select().from(projects).where(eq(projects.organizationId, organizationId)).orderBy(projects.id).limit(1);
  if (!user || !organization) throw new Error("signup rows missing after commit");
  return c.json(
    {
      user: serializeUserBasic(user),
      organization: serializeOrganization(organization, level, await loadOrganizationRelations(db, [organizationId])),
      project: project ? serializeProject(project) : null,
      personal_api_key: { id: key.row.id, label: key.row.label, value: key.value, scopes: key.row.scopes },
    },
    201,
  );
});

/** Compared as SHA-256 digests so that neither the length nor a prefix of the secret leaks through timing. */
async function bootstrapTokenMatches(secret: string | undefined, given: string | undefined): Promise<boolean> {
  if (!secret || !given) return false;
  const digest = async (text: string) => crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return crypto.subtle.timingSafeEqual(await digest(secret), await digest(given));
}

function signupClosed() {
  return permissionDenied("Signup is closed: this instance already has users. Ask an organization admin for an invite.");
}
