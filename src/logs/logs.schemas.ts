import { z } from "@hono/zod-openapi";
import { listParam } from "../lib/list-param";
import { SEVERITY_LEVELS } from "./severity";

/** Service names a logs filter accepts (one bound JSON parameter, whatever the count). */
export const MAX_SERVICE_NAMES = 1000;

export const FILTER_OPERATORS = [
  "exact",
  "is_not",
  "icontains",
  "not_icontains",
  "regex",
  "not_regex",
  "gt",
  "lt",
  "is_date_exact",
  "is_date_before",
  "is_date_after",
  "is_set",
  "is_not_set",
] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];

export const LogPropertyFilterSchema = z
  .object({
    key: z.string().min(1).max(512).openapi({
      description: 'Attribute key; for type "log" one of message, severity_text, trace_id, span_id, service_name, event_name.',
    }),
    type: z.enum(["log", "log_attribute", "log_resource_attribute"]),
    operator: z.enum(FILTER_OPERATORS).default("exact"),
    value: z
      .union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number(), z.boolean()]))])
      .nullish()
      .openapi({ description: "String, number, or array of them; omitted for is_set / is_not_set." }),
  })
  .strict()
  .openapi("LogPropertyFilter");
export type LogPropertyFilter = z.infer<typeof LogPropertyFilterSchema>;

const GroupType = z.enum(["AND", "OR"]);
const InnerGroupSchema = z.object({ type: GroupType, values: z.array(LogPropertyFilterSchema).max(100) }).strict();
const OuterGroupSchema = z
  .object({ type: GroupType, values: z.array(z.union([InnerGroupSchema, LogPropertyFilterSchema])).max(100) })
  .strict()
  .openapi("LogPropertyGroupFilter");
export type LogFilterGroup = LogPropertyFilter[] | z.infer<typeof OuterGroupSchema>;

export const FilterGroupSchema = z
  .union([z.array(LogPropertyFilterSchema).max(100), OuterGroupSchema])
  .openapi({ description: "A flat list of filters (all must match) or a PostHog PropertyGroupFilter of AND/OR groups." });

export const DateRangeSchema = z
  .object({
    date_from: z
      .string()
      .nullish()
      .openapi({ example: "-1h", description: "ISO 8601 or relative (-30M, -1h, -7d, -1w, -1m, -1y; M = minutes, m = months)." }),
    date_to: z.string().nullish().openapi({ description: 'Same formats; omitted or null means "now".' }),
  })
  .strict()
  .openapi("LogsDateRange");
export type DateRange = z.infer<typeof DateRangeSchema>;

const filterFields = {
  dateRange: DateRangeSchema.optional(),
  severityLevels: z.array(z.enum(SEVERITY_LEVELS)).default([]),
  serviceNames: z.array(z.string().max(512)).max(MAX_SERVICE_NAMES).default([]),
  searchTerm: z.string().max(1000).optional(),
  filterGroup: FilterGroupSchema.optional(),
};

export const LogsFiltersSchema = z.object(filterFields).strict();
export type LogsFilters = z.infer<typeof LogsFiltersSchema>;

export const LogsQuerySchema = z
  .object({
    ...filterFields,
    orderBy: z.enum(["latest", "earliest"]).default("latest"),
    limit: z.number().int().min(1).max(1000).default(100),
    after: z.string().max(1000).optional().openapi({ description: "`nextCursor` of the previous page." }),
    excludeAttributes: z.boolean().default(false).openapi({ description: "Answer empty attribute maps (smaller pages)." }),
  })
  .strict()
  .openapi("LogsQuery", {
    example: { dateRange: { date_from: "-1h" }, severityLevels: ["error"], serviceNames: ["checkout"], limit: 100 },
  });
export type LogsQuery = z.infer<typeof LogsQuerySchema>;

export const LogsQueryBodySchema = z.object({ query: LogsQuerySchema }).strict();

export const SparklineQuerySchema = z
  .object({ ...filterFields, sparklineBreakdownBy: z.enum(["severity", "service"]).default("severity") })
  .strict()
  .openapi("LogsSparklineQuery");
export const SparklineBodySchema = z.object({ query: SparklineQuerySchema }).strict();

export const CountBodySchema = z.object({ query: LogsFiltersSchema.openapi("LogsCountQuery") }).strict();

export const LogRowSchema = z
  .object({
    uuid: z.string(),
    timestamp: z.string().openapi({ example: "2026-01-01T12:00:00.123456Z" }),
    observed_timestamp: z.string(),
    body: z.string(),
    severity_text: z.enum(SEVERITY_LEVELS),
    severity_number: z.number().int(),
    level: z.enum(SEVERITY_LEVELS),
    service_name: z.string(),
    trace_id: z.string().nullable(),
    span_id: z.string().nullable(),
    trace_flags: z.number().int(),
    attributes: z.record(z.string(), z.string()),
    resource_attributes: z.record(z.string(), z.string()),
    instrumentation_scope: z.string(),
    event_name: z.string(),
  })
  .openapi("LogRecord");

export const LogsQueryResponseSchema = z
  .object({
    query: z.record(z.string(), z.unknown()),
    results: z.array(LogRowSchema),
    hasMore: z.boolean(),
    nextCursor: z.string().nullable(),
    maxExportableLogs: z.number().int(),
  })
  .openapi("LogsQueryResponse");

export const SparklineResponseSchema = z
  .array(
    z.object({
      time: z.string(),
      severity: z.string().optional(),
      service: z.string().optional(),
      count: z.number().int(),
    }),
  )
  .openapi("LogsSparkline");

/** Query-string parameters carrying JSON (PostHog sends dateRange, serviceNames and filterGroup JSON-encoded). */
const jsonParam = <T extends z.ZodTypeAny>(schema: T) =>
  z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "Expected JSON." });
        return z.NEVER;
      }
    })
    .pipe(schema);

const lookupFilterParams = {
  attribute_type: z.enum(["log", "resource"]).default("log"),
  dateRange: jsonParam(DateRangeSchema).optional().openapi({ type: "string", description: 'JSON, e.g. {"date_from":"-24h"}' }),
  serviceNames: listParam(z.string().max(512), 'Service names: a JSON array (e.g. ["api"]), repeated or comma-separated.'),
  filterGroup: jsonParam(FilterGroupSchema).optional().openapi({ type: "string", description: "JSON filter list or group" }),
};

export const AttributesParamsSchema = z.object({
  ...lookupFilterParams,
  search: z.string().max(512).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});

export const ValuesParamsSchema = z.object({
  ...lookupFilterParams,
  key: z.string().min(1).max(512),
  value: z.string().max(512).optional(),
});

export const ExportBodySchema = z
  .object({
    query: LogsQuerySchema.omit({ limit: true, after: true, excludeAttributes: true }),
    columns: z.array(z.string()).max(20).optional().openapi({ description: "A subset of the CSV columns, in the order wanted." }),
  })
  .strict();
