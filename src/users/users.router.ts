import { createRoute, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { createDb } from "../db/client";
import { organizationMemberships, organizations } from "../db/schema";
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
  ...secured("user:read"),
  responses: { 200: json(MeSchema, "Current user"), ...errorResponses },
});

export const usersRouter = createRouter().openapi(getMe, async (c) => {
  const { user } = c.var.auth;
  const memberships = await createDb(c.env.DB)
    .select({ id: organizations.id, name: organizations.name, slug: organizations.slug, membership_level: organizationMemberships.level })
    .from(organizationMemberships)
    .innerJoin(organizations, eq(organizations.id, organizationMemberships.organizationId))
    .where(eq(organizationMemberships.userId, user.id))
    .orderBy(organizationMemberships.joinedAt);
  return c.json({ ...serializeUserBasic(user), organizations: memberships, organization: memberships[0] ?? null }, 200);
});
