import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, json, jsonBody, secured } from "../http/openapi";
import { OrganizationParams, ProjectIdParams } from "../lib/path-params";
import { ignoringReadOnly } from "../lib/validation";
import {
  ActivityLogSchema,
  AdvancedFiltersSchema,
  AdvancedListQuery,
  BasicListQuery,
  CursorPageSchema,
  ExportRowFields,
} from "./activity.schemas";
import { IngestBodySchema } from "./ingest";

const tags = ["activity_log"];
const project = "/api/projects/{project_id}";
const organization = "/api/organizations/{organization_id}";

const AvailableFiltersSchema = z
  .object({
    static_filters: z.object({
      users: z.array(z.object({ value: z.string(), label: z.string() })),
      scopes: z.array(z.object({ value: z.string() })),
      activities: z.array(z.object({ value: z.string() })),
      clients: z.array(z.object({ value: z.string() })),
    }),
    detail_fields: z
      .record(z.string(), z.object({ fields: z.array(z.object({ name: z.string(), types: z.array(z.string()) })) }))
      .optional()
      .openapi({ description: "Detail field paths and JSON types per scope; `General` lists the `changes[]` fields." }),
  })
  .openapi("ActivityLogAvailableFilters");

const AvailableFiltersQuery = z.object({
  include_detail_fields: z.enum(["true", "false"]).optional().openapi({ description: "`false` returns only `static_filters`." }),
});

export const ExportRequestSchema = z
  .object({
    format: z.enum(["csv", "xlsx"]).default("csv"),
    filters: AdvancedFiltersSchema.default({}).openapi({
      description: "The advanced filters, as JSON (lists as arrays or comma-separated strings).",
    }),
    ...ExportRowFields,
  })
  .strict()
  .openapi("ActivityLogExportRequest", {
    description:
      "`filters`, and/or the activity row fields seed 001's example body sends (`user`, `activity`, `scope`, ...), each narrowing the export to rows with that value. Other fields are refused.",
  });

export const ExportAcceptedSchema = z.object({ id: z.string().uuid(), export_format: z.enum(["csv", "xlsx"]) }).openapi("ExportAccepted");

const IngestSingleResponse = ActivityLogSchema;
const IngestBatchResponse = z.object({ count: z.number().int(), ids: z.array(z.string().uuid()) }).openapi("ActivityLogIngestBatchResult");

export const ingest = createRoute({
  method: "post",
  path: `${project}/activity_log`,
  operationId: "activity_log_create",
  tags,
  summary: "Record activity of an app's own resources (one entry or up to 1000)",
  description:
    "Validated as a whole: one bad entry is a 400 naming `entries__<index>__<field>` and nothing is stored. " +
    "`Idempotency-Key` makes a retry within 24 hours return the first answer without storing anything. " +
    "`X-PostHog-Client` is stored as `client`.",
  ...secured("activity_log:write", "member"),
  request: {
    params: ProjectIdParams,
    headers: z.object({
      "idempotency-key": z.string().optional().openapi({ description: "Retry key, 1 to 255 characters, kept 24 hours." }),
      "x-posthog-client": z.string().optional().openapi({ description: "Stored as `client` (first 32 characters)." }),
    }),
    body: jsonBody(IngestBodySchema),
  },
  responses: {
    201: {
      description: "Stored (or replayed): the row for one entry, `{count, ids}` for a batch",
      content: { "application/json": { schema: z.union([IngestSingleResponse, IngestBatchResponse]) } },
    },
    409: json(
      z.object({ type: z.string(), code: z.string(), detail: z.string(), attr: z.string().nullable() }),
      "Idempotency-Key reused with another body",
    ),
    ...errorResponses,
  },
});

export const listActivity = createRoute({
  method: "get",
  path: `${project}/activity_log`,
  operationId: "activity_log_list",
  tags,
  summary: "List the project's activity (user, scope, scopes, item_id)",
  ...secured("activity_log:read", "member", { oneTrip: true }),
  request: { params: ProjectIdParams, query: BasicListQuery },
  responses: { 200: json(CursorPageSchema, "Activity, newest first"), ...errorResponses },
});

export const importantChanges = createRoute({
  method: "get",
  path: `${project}/activity_log/important_changes`,
  operationId: "activity_log_important_changes_retrieve",
  tags,
  summary: "Other people's recent changes to resources the caller created or changed",
  ...secured("activity_log:read", "member"),
  request: {
    params: ProjectIdParams,
    query: z.object({ unread: z.enum(["true", "false"]).optional().openapi({ description: "Only rows after the caller's bookmark." }) }),
  },
  responses: {
    200: json(
      z.object({ results: z.array(ActivityLogSchema), last_read: z.string().nullable() }).openapi("ImportantChanges"),
      "Up to 10 rows",
    ),
    ...errorResponses,
  },
});

export const bookmarkNotification = createRoute({
  method: "post",
  path: `${project}/activity_log/bookmark_activity_notification`,
  operationId: "activity_log_bookmark_activity_notification_create",
  tags,
  summary: "Mark activity up to `bookmark` as read for the caller",
  ...secured("activity_log:write", "member"),
  request: {
    params: ProjectIdParams,
    // Seed 000's example body sends the activity row's fields (`user`, `activity`, `scope`): ignored.
    body: jsonBody(
      ignoringReadOnly(
        Object.keys(ActivityLogSchema.shape),
        z.object({ bookmark: z.string().openapi({ description: "ISO 8601 date of the newest row seen." }) }).strict(),
      ),
    ),
  },
  responses: { 204: { description: "Bookmark saved" }, ...errorResponses },
});

export const listAdvancedProject = createRoute({
  method: "get",
  path: `${project}/advanced_activity_logs`,
  operationId: "advanced_activity_logs_list",
  tags,
  summary: "Search the project's activity with every filter",
  ...secured("activity_log:read", "member", { oneTrip: true }),
  request: { params: ProjectIdParams, query: AdvancedListQuery },
  responses: { 200: json(CursorPageSchema, "Activity"), ...errorResponses },
});

export const availableFiltersProject = createRoute({
  method: "get",
  path: `${project}/advanced_activity_logs/available_filters`,
  operationId: "advanced_activity_logs_available_filters_retrieve",
  tags,
  summary: "Users, scopes, activities, clients and detail fields in use in the project",
  ...secured("activity_log:read", "member", { oneTrip: true }),
  request: { params: ProjectIdParams, query: AvailableFiltersQuery },
  responses: { 200: json(AvailableFiltersSchema, "Filter values"), ...errorResponses },
});

export const exportProject = createRoute({
  method: "post",
  path: `${project}/advanced_activity_logs/export`,
  operationId: "advanced_activity_logs_export_create",
  tags,
  summary: "Export the filtered activity as CSV or XLSX (in the background)",
  ...secured("activity_log:read", "member"),
  request: { params: ProjectIdParams, body: jsonBody(ExportRequestSchema) },
  responses: { 202: json(ExportAcceptedSchema, "Export queued; poll GET /api/projects/{project_id}/exports/{id}/"), ...errorResponses },
});

export const listAdvancedOrganization = createRoute({
  method: "get",
  path: `${organization}/advanced_activity_logs`,
  operationId: "organizations_advanced_activity_logs_list",
  tags,
  summary: "Search activity across every project of the organization and its organization-level rows (admins and owners)",
  ...secured("activity_log:read", "admin", { oneTrip: true }),
  request: { params: OrganizationParams, query: AdvancedListQuery },
  responses: { 200: json(CursorPageSchema, "Activity"), ...errorResponses },
});

export const availableFiltersOrganization = createRoute({
  method: "get",
  path: `${organization}/advanced_activity_logs/available_filters`,
  operationId: "organizations_advanced_activity_logs_available_filters_retrieve",
  tags,
  summary: "Filter values in use across the organization (admins and owners)",
  ...secured("activity_log:read", "admin", { oneTrip: true }),
  request: { params: OrganizationParams, query: AvailableFiltersQuery },
  responses: { 200: json(AvailableFiltersSchema, "Filter values"), ...errorResponses },
});

export const exportOrganization = createRoute({
  method: "post",
  path: `${organization}/advanced_activity_logs/export`,
  operationId: "organizations_advanced_activity_logs_export_create",
  tags,
  summary: "Export the organization's filtered activity (admins and owners)",
  ...secured("activity_log:read", "admin"),
  request: { params: OrganizationParams, body: jsonBody(ExportRequestSchema) },
  responses: {
    202: json(ExportAcceptedSchema, "Export queued; poll GET /api/organizations/{organization_id}/exports/{id}/"),
    ...errorResponses,
  },
});
