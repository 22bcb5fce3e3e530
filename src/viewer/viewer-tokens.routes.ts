import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, json, jsonBody, secured } from "../http/openapi";
import { OrganizationIdParams, pathParam } from "../lib/path-params";
import { UserBasicSchema } from "../users";

/** A viewer link lives at most this long (WorkOS's admin-portal links: minutes to hours). */
export const MAX_VIEWER_TOKEN_MINUTES = 24 * 60;
export const READ_SCOPES = ["activity_log:read", "approvals:read", "logs:read", "export:read", "project:read", "organization:read"];

export const ViewerTokenSchema = z
  .object({
    id: z.string(),
    label: z.string(),
    scopes: z.array(z.string()),
    scoped_teams: z.array(z.number().int()),
    expires_at: z.string(),
    created_by: UserBasicSchema,
    created_at: z.string(),
  })
  .openapi("ViewerToken");

const ViewerTokenCreatedSchema = ViewerTokenSchema.extend({
  token: z.string().openapi({ description: "Shown once. The link carries it in the URL fragment, which browsers never send to a server." }),
  url: z.string().openapi({ description: "The viewer link: `/app/#token=...`." }),
}).openapi("ViewerTokenCreated");

export const ViewerTokenCreateSchema = z
  .object({
    label: z.string().trim().min(1).max(100).optional(),
    scopes: z
      .array(z.enum(READ_SCOPES as [string, ...string[]]))
      .min(1)
      .max(READ_SCOPES.length)
      .optional()
      .openapi({ description: `Read scopes only; defaults to all of them: ${READ_SCOPES.join(", ")}.` }),
    expires_in_minutes: z
      .number()
      .int()
      .min(1)
      .max(MAX_VIEWER_TOKEN_MINUTES)
      .optional()
      .openapi({ description: "Defaults to 60; at most 24 hours." }),
  })
  .strict()
  .openapi("ViewerTokenCreate");

const tags = ["viewer tokens"];
const base = "/api/organizations/{id}/viewer_tokens";
const TokenParams = OrganizationIdParams.extend({ token_id: pathParam("token_id") });

export const createViewerToken = createRoute({
  method: "post",
  path: base,
  operationId: "organizations_viewer_tokens_create",
  tags,
  summary: "Mint a short-lived, read-only viewer link for the web viewer (admins).",
  ...secured("organization:write", "admin"),
  request: { params: OrganizationIdParams, body: jsonBody(ViewerTokenCreateSchema) },
  responses: { 201: json(ViewerTokenCreatedSchema, "The token and its link, shown once"), ...errorResponses },
});

export const listViewerTokens = createRoute({
  method: "get",
  path: base,
  operationId: "organizations_viewer_tokens_list",
  tags,
  summary: "The organization's viewer links that have not expired (admins).",
  ...secured("organization:read", "admin"),
  request: { params: OrganizationIdParams },
  responses: { 200: json(z.object({ results: z.array(ViewerTokenSchema) }), "Viewer links"), ...errorResponses },
});

export const revokeViewerToken = createRoute({
  method: "delete",
  path: `${base}/{token_id}`,
  operationId: "organizations_viewer_tokens_destroy",
  tags,
  summary: "Revoke a viewer link at once (admins).",
  ...secured("organization:write", "admin"),
  request: { params: TokenParams },
  responses: { 204: { description: "Revoked" }, ...errorResponses },
});
