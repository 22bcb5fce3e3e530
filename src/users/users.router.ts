import { createRoute, z } from "@hono/zod-openapi";
import { and, eq, inArray } from "drizzle-orm";
import { createDb } from "../db/client";
import { organizationMemberships, organizations, projects } from "../db/schema";
import { errorResponses, json, secured } from "../http/openapi";
import { createRouter } from "../http/router";
import { serializeUserBasic, UserBasicSchema } from "./users.schemas";

const MeSchema = UserBasicSchema.extend({
  organizations: z.array(z.object({ id: z.string(), name: z.string(), slug: z.string(), membership_level: z.number().int() })),
  organization: z.object({ id: z.string(), name: z.string(), slug: z.string(), membership_level: z.number().int() }).nullable(),
}).openapi("Me");

const getMe = createRoute({
  method: "get",
  path: "/api/users/@me",
  operationId: "users_me_retrieve",
  tags: ["users"],
  summary: "The user the API key belongs to, with their organizations",
  ...secured("user:read", "user"),
  responses: { 200: json(MeSchema, "Current user"), ...errorResponses },
});

export const usersRouter = createRouter().openapi(getMe, async (c) => {
  const { user, key } = c.var.auth;
  const db = createDb(c.env.DB);
  // A restricted key sees only the organizations it reaches (those of its projects, for a project-scoped key).
  const reached = key.scopedTeams?.length
    ? inArray(
        organizations.id,
        db.selectDistinct({ id: projects.organizationId }).from(projects).where(inArray(projects.id, key.scopedTeams)),
      )
    : key.scopedOrganizations?.length
      ? inArray(organizations.id, key.scopedOrganizations)
      : undefined;
  const memberships = await db
    .select({ id: organizations.id, name: organizations.name, slug: organizations.slug, membership_level: organizationMemberships.level })
    .from(organizationMemberships)
    .innerJoin(organizations, eq(organizations.id, organizationMemberships.organizationId))
    .where(and(eq(organizationMemberships.userId, user.id), reached))
    .orderBy(organizationMemberships.joinedAt);
  return c.json({ ...serializeUserBasic(user), organizations: memberships, organization: memberships[0] ?? null }, 200);
});
