import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, json, secured } from "../http/openapi";
import { ErrorSchema } from "../lib/errors";
import { OrganizationItemParams, ProjectItemParams } from "../lib/path-params";
import { EXPORT_LIFETIME_DAYS } from "./exports.service";

export const ExportSchema = z
  .object({
    id: z.string().uuid(),
    kind: z.string().openapi({ description: "What is exported, e.g. `activity_log`." }),
    format: z.enum(["csv", "xlsx"]),
    export_format: z.string().openapi({ description: "MIME type, as PostHog's exported assets." }),
    status: z.enum(["pending", "running", "complete", "failed", "expired"]).openapi({
      description: "`expired`: the file outlived its lifetime (`expires_after`) and was deleted; export again.",
    }),
    has_content: z.boolean(),
    filename: z.string(),
    progress: z.object({
      rows_written: z.number().int(),
      total_rows: z.number().int().nullable(),
      percent: z.number().nullable(),
    }),
    size_bytes: z.number().int().nullable(),
    filters: z.record(z.string(), z.unknown()),
    attempts: z.number().int(),
    exception: z.string().nullable().openapi({ description: "The last failure, also while a retry is pending." }),
    created_at: z.string(),
    started_at: z.string().nullable(),
    completed_at: z.string().nullable(),
    expires_after: z
      .string()
      .nullable()
      .openapi({
        description: `When the file is (or was) deleted: ${EXPORT_LIFETIME_DAYS} days after the export completed. Null until it completes.`,
      }),
  })
  .openapi("Export");

const tags = ["exports"];
const download = {
  200: {
    description: "The file (`Content-Disposition: attachment`)",
    content: {
      "text/csv": { schema: z.string() },
      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": { schema: z.string().openapi({ format: "binary" }) },
    },
  },
  409: json(
    z.object({ type: z.string(), code: z.string(), detail: z.string(), attr: z.string().nullable() }),
    "Not ready (pending, running or failed)",
  ),
  410: json(ErrorSchema, "Expired: the file outlived its lifetime and was deleted (`export_expired`)"),
};

export const getProjectExport = createRoute({
  method: "get",
  path: "/api/projects/{project_id}/exports/{id}",
  operationId: "exports_retrieve",
  tags,
  summary: "An export's status and progress (visible to the user who requested it)",
  ...secured("export:read", "member"),
  request: { params: ProjectItemParams },
  responses: { 200: json(ExportSchema, "Export"), ...errorResponses },
});

export const getProjectExportContent = createRoute({
  method: "get",
  path: "/api/projects/{project_id}/exports/{id}/content",
  operationId: "exports_content_retrieve",
  tags,
  summary: "Download a finished export",
  ...secured("export:read", "member"),
  request: { params: ProjectItemParams },
  responses: { ...download, ...errorResponses },
});

export const getOrganizationExport = createRoute({
  method: "get",
  path: "/api/organizations/{organization_id}/exports/{id}",
  operationId: "organizations_exports_retrieve",
  tags,
  summary: "An organization-wide export's status and progress (admins and owners; the requester only)",
  ...secured("export:read", "admin"),
  request: { params: OrganizationItemParams },
  responses: { 200: json(ExportSchema, "Export"), ...errorResponses },
});

export const getOrganizationExportContent = createRoute({
  method: "get",
  path: "/api/organizations/{organization_id}/exports/{id}/content",
  operationId: "organizations_exports_content_retrieve",
  tags,
  summary: "Download a finished organization-wide export",
  ...secured("export:read", "admin"),
  request: { params: OrganizationItemParams },
  responses: { ...download, ...errorResponses },
});
