import { createRoute, z } from "@hono/zod-openapi";
import { MEMBERSHIP_LEVELS } from "../auth/levels";
import { errorResponses, json, jsonBody, secured } from "../http/openapi";
import { LimitOffsetQuery, paginated } from "../lib/pagination";
import { OrganizationIdParams } from "../lib/path-params";
import { UserBasicSchema } from "../users";

export const InviteSchema = z
  .object({
    id: z.string().uuid(),
    target_email: z.string().email(),
    first_name: z.string(),
    emailing_attempt_made: z.boolean(),
    level: z.number().int(),
    is_expired: z.boolean(),
    created_by: UserBasicSchema.nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    message: z.string().nullable(),
  })
  .openapi("OrganizationInvite");

export const InviteCreatedSchema = InviteSchema.extend({
  invite_token: z.string().openapi({ description: "The secret for `POST /api/signup/`, shown only in this response." }),
}).openapi("OrganizationInviteCreated");

export const InviteCreateSchema = z
  .object({
    target_email: z.string().trim().toLowerCase().email(),
    first_name: z.string().trim().max(30).optional(),
    level: z
      .number()
      .int()
      .refine((l) => (MEMBERSHIP_LEVELS as readonly number[]).includes(l), "Level must be 1 (member), 8 (admin) or 15 (owner).")
      .optional(),
    message: z.string().max(1000).nullable().optional(),
  })
  .strict()
  .openapi("OrganizationInviteCreate");

export const InviteParams = OrganizationIdParams.extend({
  invite_id: z.string().openapi({ param: { name: "invite_id", in: "path" } }),
});

export const tags = ["organization invites"];
export const base = "/api/organizations/{id}/invites";

export const listInvites = createRoute({
  method: "get",
  path: base,
  operationId: "organizations_invites_list",
  tags,
  summary: "List pending invites",
  ...secured("organization_member:read", "member"),
  request: { params: OrganizationIdParams, query: LimitOffsetQuery },
  responses: { 200: json(paginated(InviteSchema), "Invites"), ...errorResponses },
});

export const createInvite = createRoute({
  method: "post",
  path: base,
  operationId: "organizations_invites_create",
  tags,
  summary: "Invite someone at or below your own level (members only members, when members_can_invite)",
  description:
    "The answer carries `invite_token`, the invitee's signup secret, this once; it is stored hashed. " +
    "Inviting an email again replaces its pending invite: the earlier token stops working.",
  ...secured("organization_member:write", "member"),
  request: { params: OrganizationIdParams, body: jsonBody(InviteCreateSchema) },
  responses: { 201: json(InviteCreatedSchema, "Invite, with its token"), ...errorResponses },
});

export const deleteInvite = createRoute({
  method: "delete",
  path: `${base}/{invite_id}`,
  operationId: "organizations_invites_destroy",
  tags,
  summary: "Revoke an invite (admins, or its creator)",
  ...secured("organization_member:write", "member"),
  request: { params: InviteParams },
  responses: { 204: { description: "Revoked" }, ...errorResponses },
});
