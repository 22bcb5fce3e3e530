import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, json, jsonBody, secured } from "../http/openapi";
import { LimitOffsetQuery, paginated } from "../lib/pagination";
import { OrganizationIdParams } from "../lib/path-params";
import { UserBasicSchema } from "../users";

export const RoleMembershipSchema = z
  .object({
    id: z.string().uuid(),
    role_id: z.string().uuid(),
    user: UserBasicSchema,
    joined_at: z.string(),
  })
  .openapi("RoleMembership");

export const RoleSchema = z
  .object({
    id: z.string().uuid(),
    name: z.string(),
    created_at: z.string(),
    created_by: UserBasicSchema.nullable(),
    members: z.array(RoleMembershipSchema),
    is_default: z.boolean(),
  })
  .openapi("Role");

export const RoleWriteSchema = z
  .object({ name: z.string().trim().min(1).max(200) })
  .strict()
  .openapi("RoleWrite");
export const RoleParams = OrganizationIdParams.extend({ role_id: z.string().openapi({ param: { name: "role_id", in: "path" } }) });
export const RoleMembershipParams = RoleParams.extend({
  membership_id: z.string().openapi({ param: { name: "membership_id", in: "path" } }),
});
export const RoleMembershipCreateSchema = z.object({ user_uuid: z.string().uuid() }).strict().openapi("RoleMembershipCreate");

export const tags = ["roles"];
export const base = "/api/organizations/{id}/roles";

export const listRoles = createRoute({
  method: "get",
  path: base,
  operationId: "organizations_roles_list",
  tags,
  summary: "List roles with their members",
  ...secured("organization:read", "member"),
  request: { params: OrganizationIdParams, query: LimitOffsetQuery },
  responses: { 200: json(paginated(RoleSchema), "Roles"), ...errorResponses },
});
export const createRole = createRoute({
  method: "post",
  path: base,
  operationId: "organizations_roles_create",
  tags,
  summary: "Create a role (admins)",
  ...secured("organization:write", "admin"),
  request: { params: OrganizationIdParams, body: jsonBody(RoleWriteSchema) },
  responses: { 201: json(RoleSchema, "Role"), ...errorResponses },
});
export const getRole = createRoute({
  method: "get",
  path: `${base}/{role_id}`,
  operationId: "organizations_roles_retrieve",
  tags,
  summary: "Retrieve a role",
  ...secured("organization:read", "member"),
  request: { params: RoleParams },
  responses: { 200: json(RoleSchema, "Role"), ...errorResponses },
});
export const updateRole = createRoute({
  method: "patch",
  path: `${base}/{role_id}`,
  operationId: "organizations_roles_partial_update",
  tags,
  summary: "Rename a role (admins)",
  ...secured("organization:write", "admin"),
  request: { params: RoleParams, body: jsonBody(RoleWriteSchema) },
  responses: { 200: json(RoleSchema, "Role"), ...errorResponses },
});
export const deleteRole = createRoute({
  method: "delete",
  path: `${base}/{role_id}`,
  operationId: "organizations_roles_destroy",
  tags,
  summary: "Delete a role (admins)",
  ...secured("organization:write", "admin"),
  request: { params: RoleParams },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});
export const listRoleMemberships = createRoute({
  method: "get",
  path: `${base}/{role_id}/role_memberships`,
  operationId: "organizations_roles_role_memberships_list",
  tags,
  summary: "List a role's members",
  ...secured("organization:read", "member"),
  request: { params: RoleParams, query: LimitOffsetQuery },
  responses: { 200: json(paginated(RoleMembershipSchema), "Role members"), ...errorResponses },
});
export const addRoleMembership = createRoute({
  method: "post",
  path: `${base}/{role_id}/role_memberships`,
  operationId: "organizations_roles_role_memberships_create",
  tags,
  summary: "Add an organization member to a role (admins)",
  ...secured("organization:write", "admin"),
  request: { params: RoleParams, body: jsonBody(RoleMembershipCreateSchema) },
  responses: { 201: json(RoleMembershipSchema, "Role membership"), ...errorResponses },
});
export const removeRoleMembership = createRoute({
  method: "delete",
  path: `${base}/{role_id}/role_memberships/{membership_id}`,
  operationId: "organizations_roles_role_memberships_destroy",
  tags,
  summary: "Remove a member from a role (admins)",
  ...secured("organization:write", "admin"),
  request: { params: RoleMembershipParams },
  responses: { 204: { description: "Removed" }, ...errorResponses },
});
