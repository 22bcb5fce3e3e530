import { createRoute, z } from "@hono/zod-openapi";
import { approvalGateResponses } from "../approvals";
import { errorResponses, json, jsonBody, secured } from "../http/openapi";
import { LimitOffsetQuery, paginated } from "../lib/pagination";
import { ProjectIdParams } from "../lib/path-params";
import { timeZone } from "../lib/validation";

export const ProjectSchema = z
  .object({
    id: z.number().int(),
    uuid: z.string().uuid(),
    organization: z.string().uuid(),
    name: z.string(),
    api_token: z.string().openapi({ description: "Ingestion token (`phc_...`) for `/i/v1/logs`." }),
    timezone: z.string(),
    logs_retention_days: z.number().int(),
    receive_org_level_activity_logs: z.boolean().openapi({
      description:
        "Include organization-level activity: the project's activity_log, advanced_activity_logs and activity notifications also carry its organization's rows (members, invites, roles, settings).",
    }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Project");

const ProjectCreateSchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    organization: z.string().uuid().optional().openapi({ description: "Defaults to the caller's first organization." }),
    timezone: timeZone.optional(),
    logs_retention_days: z.number().int().min(1).max(365).optional(),
    receive_org_level_activity_logs: z.boolean().optional().openapi({ description: "Off by default." }),
  })
  .strict()
  .openapi("ProjectCreate");

export const ProjectUpdateSchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    timezone: timeZone,
    logs_retention_days: z.number().int().min(1).max(365),
    receive_org_level_activity_logs: z.boolean(),
  })
  .partial()
  .strict()
  .openapi("ProjectUpdate");

const tags = ["projects"];
const path = "/api/projects/{project_id}";

export const listProjects = createRoute({
  method: "get",
  path: "/api/projects",
  operationId: "projects_list",
  tags,
  summary: "List the projects the caller can reach",
  ...secured("project:read", "user"),
  request: { query: LimitOffsetQuery },
  responses: { 200: json(paginated(ProjectSchema), "Projects"), ...errorResponses },
});

export const createProject = createRoute({
  method: "post",
  path: "/api/projects",
  operationId: "projects_create",
  tags,
  summary: "Create a project (organization admin or owner)",
  ...secured("project:write", "user"),
  request: { body: jsonBody(ProjectCreateSchema) },
  responses: { 201: json(ProjectSchema, "Created"), ...errorResponses },
});

export const getProject = createRoute({
  method: "get",
  path,
  operationId: "projects_retrieve",
  tags,
  summary: "Retrieve a project",
  ...secured("project:read", "member"),
  request: { params: ProjectIdParams },
  responses: { 200: json(ProjectSchema, "Project"), ...errorResponses },
});

export const updateProject = createRoute({
  method: "patch",
  path,
  operationId: "projects_partial_update",
  tags,
  summary: "Update a project (organization admin or owner)",
  ...secured("project:write", "admin"),
  request: { params: ProjectIdParams, body: jsonBody(ProjectUpdateSchema) },
  responses: { 200: json(ProjectSchema, "Updated"), ...errorResponses },
});

export const deleteProject = createRoute({
  method: "delete",
  path,
  operationId: "projects_destroy",
  tags,
  summary: "Delete a project (organization admin or owner)",
  ...secured("project:write", "admin"),
  request: { params: ProjectIdParams },
  responses: { 204: { description: "Deleted" }, ...errorResponses, ...approvalGateResponses },
});

export const resetProjectToken = createRoute({
  method: "post",
  path: `${path}/reset_token`,
  operationId: "projects_reset_token_create",
  tags,
  summary: "Rotate the project's ingestion token (the old one stops working at once)",
  ...secured("project:write", "admin"),
  request: { params: ProjectIdParams },
  responses: { 200: json(ProjectSchema, "Project with its new api_token"), ...errorResponses },
});
