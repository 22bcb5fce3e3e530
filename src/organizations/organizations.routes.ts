import { createRoute, z } from "@hono/zod-openapi";
import { approvalGateResponses } from "../approvals";
import { errorResponses, json, jsonBody, secured } from "../http/openapi";
import { LimitOffsetQuery, paginated } from "../lib/pagination";
import { OrganizationIdParams } from "../lib/path-params";
import { timeZone } from "../lib/validation";

const ProjectBriefSchema = z.object({
  id: z.number().int(),
  uuid: z.string(),
  organization: z.string(),
  name: z.string(),
});

export const OrganizationSchema = z
  .object({
    id: z.string().uuid(),
    name: z.string(),
    slug: z.string(),
    logo_media_id: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    membership_level: z.number().int().nullable(),
    plugins_access_level: z.number().int(),
    teams: z.array(ProjectBriefSchema),
    projects: z.array(ProjectBriefSchema),
    available_product_features: z.array(z.string()),
    is_member_join_email_enabled: z.boolean(),
    metadata: z.record(z.string(), z.string()),
    customer_id: z.string().nullable(),
    enforce_2fa: z.boolean().nullable(),
    members_can_invite: z.boolean().nullable(),
    members_can_use_personal_api_keys: z.boolean(),
    allow_publicly_shared_resources: z.boolean(),
    member_count: z.number().int(),
    is_ai_data_processing_approved: z.boolean().nullable(),
    is_ai_training_opted_in: z.boolean().nullable(),
    is_ai_training_locked: z.boolean(),
    is_ai_training_cta_shown: z.boolean(),
    is_hipaa: z.boolean(),
    default_experiment_stats_method: z.enum(["bayesian", "frequentist"]),
    default_anonymize_ips: z.boolean(),
    default_role_id: z.string().nullable(),
    is_active: z.boolean(),
    is_not_active_reason: z.string().nullable(),
    is_pending_deletion: z.boolean(),
    timezone: z.string().openapi({ description: "IANA time zone; the SD Elements feed reads dates without `Z` in it." }),
    activity_log_retention_days: z.number().int(),
  })
  .openapi("Organization");

const OrganizationWritableSchema = z.object({
  name: z.string().trim().min(1).max(64),
  logo_media_id: z.string().nullable().optional(),
  enforce_2fa: z.boolean().nullable().optional(),
  members_can_invite: z.boolean().nullable().optional(),
  members_can_use_personal_api_keys: z.boolean().optional(),
  allow_publicly_shared_resources: z.boolean().optional(),
  is_member_join_email_enabled: z.boolean().optional(),
  is_ai_data_processing_approved: z.boolean().nullable().optional(),
  is_ai_training_opted_in: z.boolean().nullable().optional(),
  default_experiment_stats_method: z.enum(["bayesian", "frequentist"]).optional(),
  default_anonymize_ips: z.boolean().optional(),
  default_role_id: z.string().uuid().nullable().optional(),
  timezone: timeZone.optional(),
  activity_log_retention_days: z.number().int().min(1).max(3650).optional(),
});
export const OrganizationCreateSchema = OrganizationWritableSchema.strict().openapi("OrganizationCreate");
export const OrganizationUpdateSchema = OrganizationWritableSchema.partial().strict().openapi("OrganizationUpdate");
export type OrganizationUpdate = z.infer<typeof OrganizationUpdateSchema>;

const tags = ["organizations"];

export const listOrganizations = createRoute({
  method: "get",
  path: "/api/organizations",
  operationId: "organizations_list",
  tags,
  summary: "List the organizations the caller belongs to",
  ...secured("organization:read", "user"),
  request: { query: LimitOffsetQuery },
  responses: { 200: json(paginated(OrganizationSchema), "Organizations"), ...errorResponses },
});

export const createOrganization = createRoute({
  method: "post",
  path: "/api/organizations",
  operationId: "organizations_create",
  tags,
  summary: "Create an organization (the caller becomes its owner; a default project is created)",
  ...secured("organization:write", "user"),
  request: { body: jsonBody(OrganizationCreateSchema) },
  responses: { 201: json(OrganizationSchema, "Created"), ...errorResponses },
});

export const getOrganization = createRoute({
  method: "get",
  path: "/api/organizations/{id}",
  operationId: "organizations_retrieve",
  tags,
  summary: "Retrieve an organization",
  ...secured("organization:read", "member"),
  request: { params: OrganizationIdParams },
  responses: { 200: json(OrganizationSchema, "Organization"), ...errorResponses },
});

export const updateOrganization = createRoute({
  method: "patch",
  path: "/api/organizations/{id}",
  operationId: "organizations_partial_update",
  tags,
  summary: "Update an organization (admin or owner)",
  ...secured("organization:write", "admin"),
  request: { params: OrganizationIdParams, body: jsonBody(OrganizationUpdateSchema) },
  responses: { 200: json(OrganizationSchema, "Updated"), ...errorResponses, ...approvalGateResponses },
});

export const deleteOrganization = createRoute({
  method: "delete",
  path: "/api/organizations/{id}",
  operationId: "organizations_destroy",
  tags,
  summary: "Delete an organization and its projects (owner only)",
  ...secured("organization:write", "owner"),
  request: { params: OrganizationIdParams },
  responses: { 204: { description: "Deleted" }, ...errorResponses, ...approvalGateResponses },
});
