import { createRoute, z } from "@hono/zod-openapi";
import { approvalGateResponses } from "../approvals";
import { MEMBERSHIP_LEVELS } from "../auth/levels";
import { errorResponses, json, jsonBody, secured } from "../http/openapi";
import { LimitOffsetQuery, paginated } from "../lib/pagination";
import { OrganizationIdParams } from "../lib/path-params";
import { UserBasicSchema } from "../users";

export const MemberSchema = z
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

export const MemberParams = OrganizationIdParams.extend({
  user_uuid: z.string().openapi({ param: { name: "user_uuid", in: "path" } }),
});

export const MemberUpdateSchema = z
  .object({
    level: z
      .number()
      .int()
      .refine((l) => (MEMBERSHIP_LEVELS as readonly number[]).includes(l), "Level must be 1 (member), 8 (admin) or 15 (owner)."),
  })
  .strict()
  .openapi("OrganizationMemberUpdate");

export const tags = ["organization members"];
export const base = "/api/organizations/{id}/members";

export const listMembers = createRoute({
  method: "get",
  path: base,
  operationId: "organizations_members_list",
  tags,
  summary: "List the organization's members",
  ...secured("organization_member:read", "member"),
  request: { params: OrganizationIdParams, query: LimitOffsetQuery },
  responses: { 200: json(paginated(MemberSchema), "Members"), ...errorResponses },
});

export const updateMember = createRoute({
  method: "patch",
  path: `${base}/{user_uuid}`,
  operationId: "organizations_members_partial_update",
  tags,
  summary: "Change a member's level (admins; never above your own level, never your own membership)",
  ...secured("organization_member:write", "admin"),
  request: { params: MemberParams, body: jsonBody(MemberUpdateSchema) },
  responses: { 200: json(MemberSchema, "Member"), ...errorResponses, ...approvalGateResponses },
});

export const removeMember = createRoute({
  method: "delete",
  path: `${base}/{user_uuid}`,
  operationId: "organizations_members_destroy",
  tags,
  summary: "Remove a member (admins, for members below their level) or leave the organization yourself",
  ...secured("organization_member:write", "member"),
  request: { params: MemberParams },
  responses: { 204: { description: "Removed" }, ...errorResponses },
});
