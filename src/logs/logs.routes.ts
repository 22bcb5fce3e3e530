import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, json, jsonBody, secured } from "../http/openapi";
import { ProjectIdParams } from "../lib/path-params";

import {
  AttributesParamsSchema,
  CountBodySchema,
  ExportBodySchema,
  LogsQueryBodySchema,
  LogsQueryResponseSchema,
  SparklineBodySchema,
  SparklineResponseSchema,
  ValuesParamsSchema,
} from "./logs.schemas";

const tags = ["logs"];
const base = "/api/projects/{project_id}/logs";

export const queryLogsRoute = createRoute({
  method: "post",
  path: `${base}/query`,
  operationId: "logs_query_create",
  tags,
  summary: "Query logs: filters, newest or oldest first, cursor pagination",
  ...secured("logs:read", "member", { oneTrip: true }),
  request: { params: ProjectIdParams, body: jsonBody(LogsQueryBodySchema) },
  responses: { 200: json(LogsQueryResponseSchema, "A page of logs"), ...errorResponses },
});

export const sparklineRoute = createRoute({
  method: "post",
  path: `${base}/sparkline`,
  operationId: "logs_sparkline_create",
  tags,
  summary: "Log counts per time bucket (about 50 buckets over the range), by severity or service",
  ...secured("logs:read", "member", { oneTrip: true }),
  request: { params: ProjectIdParams, body: jsonBody(SparklineBodySchema) },
  responses: { 200: json(SparklineResponseSchema, "Buckets"), ...errorResponses },
});

export const countRoute = createRoute({
  method: "post",
  path: `${base}/count`,
  operationId: "logs_count_create",
  tags,
  summary: "Number of logs matching the filters in the date range (what logs alerts evaluate)",
  ...secured("logs:read", "member", { oneTrip: true }),
  request: { params: ProjectIdParams, body: jsonBody(CountBodySchema) },
  responses: { 200: json(z.object({ count: z.number().int() }), "Count"), ...errorResponses },
});

const AttributeSchema = z.object({
  name: z.string(),
  propertyFilterType: z.enum(["log_attribute", "log_resource_attribute"]),
  matchedOn: z.literal("key"),
});

export const attributesRoute = createRoute({
  method: "get",
  path: `${base}/attributes`,
  operationId: "logs_attributes_list",
  tags,
  summary: "Attribute keys seen in the date range (log or resource attributes)",
  ...secured("logs:read", "member", { oneTrip: true }),
  request: { params: ProjectIdParams, query: AttributesParamsSchema },
  responses: { 200: json(z.object({ results: z.array(AttributeSchema), count: z.number().int() }), "Keys"), ...errorResponses },
});

export const valuesRoute = createRoute({
  method: "get",
  path: `${base}/values`,
  operationId: "logs_values_list",
  tags,
  summary: "Most frequent values of one attribute key",
  ...secured("logs:read", "member", { oneTrip: true }),
  request: { params: ProjectIdParams, query: ValuesParamsSchema },
  responses: {
    200: json(
      z.object({ results: z.array(z.object({ id: z.string(), name: z.string(), count: z.number().int() })), refreshing: z.boolean() }),
      "Values",
    ),
    ...errorResponses,
  },
});

export const hasLogsRoute = createRoute({
  method: "get",
  path: `${base}/has_logs`,
  operationId: "logs_has_logs_retrieve",
  tags,
  summary: "Whether the project has received any logs still retained",
  ...secured("logs:read", "member", { oneTrip: true }),
  request: { params: ProjectIdParams },
  responses: { 200: json(z.object({ hasLogs: z.boolean() }), "Has logs"), ...errorResponses },
});

export const exportLogsRoute = createRoute({
  method: "post",
  path: `${base}/export`,
  operationId: "logs_export_create",
  tags,
  summary: "Export the logs of a query as CSV (at most 10,000 rows), written in the background",
  description: "Follow it with `GET /api/projects/{project_id}/exports/{id}/` and download it from `.../content/`.",
  ...secured("logs:read", "member"),
  request: { params: ProjectIdParams, body: jsonBody(ExportBodySchema) },
  responses: {
    201: json(
      z
        .object({
          id: z.string().uuid(),
          export_format: z.literal("text/csv"),
          created_at: z.string(),
          has_content: z.boolean(),
          filename: z.string(),
        })
        .openapi("LogsExportCreated"),
      "Export queued",
    ),
    ...errorResponses,
  },
});
