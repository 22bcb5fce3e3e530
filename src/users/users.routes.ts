import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, json, secured } from "../http/openapi";
import { UserBasicSchema } from "./users.schemas";

export const MeSchema = UserBasicSchema.extend({
  organizations: z.array(z.object({ id: z.string(), name: z.string(), slug: z.string(), membership_level: z.number().int() })),
  organization: z.object({ id: z.string(), name: z.string(), slug: z.string(), membership_level: z.number().int() }).nullable(),
}).openapi("Me");

export const getMe = createRoute({
  method: "get",
  path: "/api/users/@me",
  operationId: "users_me_retrieve",
  tags: ["users"],
  summary: "The user the API key belongs to, with their organizations",
  ...secured("user:read", "user"),
  responses: { 200: json(MeSchema, "Current user"), ...errorResponses },
});
