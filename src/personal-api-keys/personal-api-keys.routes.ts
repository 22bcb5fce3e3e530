import { createRoute, z } from "@hono/zod-openapi";
import { approvalGateResponses } from "../approvals";
import { ALL_SCOPES } from "../auth/scopes";
import { errorResponses, json, jsonBody, secured } from "../http/openapi";
import { MAX_LIST_ITEMS } from "../lib/list-param";
import { LimitOffsetQuery, paginated } from "../lib/pagination";

export const PersonalApiKeySchema = z
  .object({
    id: z.string(),
    label: z.string(),
    mask_value: z.string(),
    scopes: z.array(z.string()),
    scoped_organizations: z.array(z.string()),
    scoped_teams: z.array(z.number().int()),
    created_at: z.string(),
    last_used_at: z.string().nullable(),
    last_rolled_at: z.string().nullable(),
  })
  .openapi("PersonalAPIKey");

export const CreatedKeySchema = PersonalApiKeySchema.extend({
  value: z.string().openapi({ description: "The key itself (`phx_...`), shown only in this response." }),
}).openapi("PersonalAPIKeyCreated");

export const KeyWriteSchema = z.object({
  label: z.string().trim().min(1).max(40),
  scopes: z
    .array(z.string().refine((s) => ALL_SCOPES.includes(s), { message: "Invalid scope." }))
    .min(1)
    .openapi({ example: ["activity_log:read"] }),
  // Each list is one JSON parameter of the statements that enforce it (json_each), so its length is
  // bounded by what a tenant has, not by D1's 100 parameters per statement.
  scoped_organizations: z.array(z.string().uuid()).max(MAX_LIST_ITEMS).nullable().optional(),
  scoped_teams: z.array(z.number().int()).max(MAX_LIST_ITEMS).nullable().optional(),
});
export const KeyCreateSchema = KeyWriteSchema.strict().openapi("PersonalAPIKeyCreate");
export const KeyUpdateSchema = KeyWriteSchema.partial().strict().openapi("PersonalAPIKeyUpdate");
export const KeyParams = z.object({ key_id: z.string().openapi({ param: { name: "key_id", in: "path" } }) });

export const tags = ["personal api keys"];
export const base = "/api/personal_api_keys";

export const listKeys = createRoute({
  method: "get",
  path: base,
  operationId: "personal_api_keys_list",
  tags,
  summary: "List your personal API keys (values are never shown again)",
  ...secured("personal_api_key:read", "user"),
  request: { query: LimitOffsetQuery },
  responses: { 200: json(paginated(PersonalApiKeySchema), "Keys"), ...errorResponses },
});
export const createKey = createRoute({
  method: "post",
  path: base,
  operationId: "personal_api_keys_create",
  tags,
  summary: "Create a personal API key; the value is in this response only",
  ...secured("personal_api_key:write", "user"),
  request: { body: jsonBody(KeyCreateSchema) },
  responses: { 201: json(CreatedKeySchema, "Key with its value"), ...errorResponses, ...approvalGateResponses },
});
export const getKey = createRoute({
  method: "get",
  path: `${base}/{key_id}`,
  operationId: "personal_api_keys_retrieve",
  tags,
  summary: "Retrieve one of your keys",
  ...secured("personal_api_key:read", "user"),
  request: { params: KeyParams },
  responses: { 200: json(PersonalApiKeySchema, "Key"), ...errorResponses },
});
export const updateKey = createRoute({
  method: "patch",
  path: `${base}/{key_id}`,
  operationId: "personal_api_keys_partial_update",
  tags,
  summary: "Change a key's label, scopes or restrictions",
  ...secured("personal_api_key:write", "user"),
  request: { params: KeyParams, body: jsonBody(KeyUpdateSchema) },
  responses: { 200: json(PersonalApiKeySchema, "Key"), ...errorResponses, ...approvalGateResponses },
});
export const deleteKey = createRoute({
  method: "delete",
  path: `${base}/{key_id}`,
  operationId: "personal_api_keys_destroy",
  tags,
  summary: "Revoke a key",
  ...secured("personal_api_key:write", "user"),
  request: { params: KeyParams },
  responses: { 204: { description: "Revoked" }, ...errorResponses },
});
