import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, json, jsonBody, type RouteLevel, secured } from "../http/openapi";
import { isoDateParam } from "../lib/dates";
import { ErrorSchema } from "../lib/errors";
import { NOTIFICATION_EVENT_TYPES } from "../lib/messages";
import { LimitOffsetQuery, paginated } from "../lib/pagination";
import { OrganizationIdParams, ProjectIdParams } from "../lib/path-params";

import { UserBasicSchema } from "../users";

const MAX_FILTER_VALUES = 100;
const FilterValues = z.array(z.string().trim().min(1).max(400)).max(MAX_FILTER_VALUES);

export const FiltersSchema = z
  .object({
    scopes: FilterValues.optional().openapi({ description: "Activity scopes (resource types), e.g. `FeatureFlag`." }),
    activities: FilterValues.optional().openapi({ description: "Activity names, e.g. `created`, `deleted`." }),
    item_ids: FilterValues.optional().openapi({ description: "Only activity on these item ids." }),
    alert_ids: FilterValues.optional().openapi({ description: "Only these logs alerts (for `logs_alert_*` events)." }),
  })
  .strict()
  .openapi("DestinationFilters");

const EventsSchema = z
  .array(z.enum(NOTIFICATION_EVENT_TYPES))
  .min(1)
  .max(NOTIFICATION_EVENT_TYPES.length)
  .refine((events) => new Set(events).size === events.length, { message: "Events must not repeat." });

const DestinationTypeSchema = z.enum(["slack", "webhook"]);

export const DestinationSchema = z
  .object({
    id: z.string().uuid(),
    name: z.string(),
    type: DestinationTypeSchema,
    url: z.string(),
    enabled: z.boolean(),
    events: z.array(z.string()),
    filters: FiltersSchema,
    include_organization_activity: z.boolean(),
    organization: z.string().uuid(),
    project: z.number().int().nullable().openapi({ description: "null for an organization-level destination." }),
    secret: z
      .string()
      .nullable()
      .openapi({ description: "Webhooks: the `whsec_` signing secret, shown only in the create and rotate answers; null elsewhere." }),
    previous_secret_expires_at: z.string().nullable().openapi({ description: "Until then the previous secret signs too." }),
    disabled_reason: z.string().nullable().openapi({ description: "Why the system disabled it (410, 5 days of failures)." }),
    failing_since: z.string().nullable(),
    last_success_at: z.string().nullable(),
    created_by: UserBasicSchema.nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Destination");

export const DestinationCreateSchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    type: DestinationTypeSchema,
    url: z.string().trim().min(1).openapi({ description: "https only; private, loopback, link-local and metadata addresses are refused." }),
    enabled: z.boolean().default(true),
    events: EventsSchema,
    filters: FiltersSchema.default({}),
    include_organization_activity: z
      .boolean()
      .default(false)
      .openapi({ description: "Project destinations: also receive organization-level activity (members, roles, settings)." }),
  })
  .strict()
  .openapi("DestinationCreate");

export const DestinationUpdateSchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    url: z.string().trim().min(1),
    enabled: z.boolean(),
    events: EventsSchema,
    filters: FiltersSchema,
    include_organization_activity: z.boolean(),
  })
  .partial()
  .strict()
  .openapi("DestinationUpdate");

export const TestResultSchema = z
  .object({
    success: z.boolean().openapi({ description: "The receiver answered 2xx." }),
    status_code: z.number().int().nullable(),
    response_body: z.string().openapi({ description: "The first 2,000 characters of the answer." }),
    duration_ms: z.number().int(),
    error: z.string().nullable(),
    webhook_id: z.string(),
  })
  .openapi("DestinationTestResult");

const DELIVERY_STATUSES = ["pending", "retrying", "succeeded", "failed"] as const;

const DeliveryAttemptSchema = z
  .object({
    attempt: z.number().int(),
    status: z.enum(["succeeded", "failed"]),
    response_code: z.number().int().nullable(),
    duration_ms: z.number().int(),
    error: z.string().nullable(),
    response_body: z.string().nullable().openapi({ description: "The first 1,000 characters of the answer." }),
    next_retry_at: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi("DeliveryAttempt");

export const DeliverySchema = z
  .object({
    id: z.string().uuid().openapi({ description: "Also the `webhook-id` header, the same on every attempt." }),
    destination: z.string().uuid(),
    event_id: z.string(),
    event: z.string(),
    status: z.enum(DELIVERY_STATUSES),
    attempt_count: z.number().int(),
    last_response_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
    next_retry_at: z.string().nullable(),
    payload: z.unknown().openapi({ description: "The request body sent to the receiver." }),
    attempts: z.array(DeliveryAttemptSchema),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Delivery");

export const DeliveryListQuery = LimitOffsetQuery.extend({
  status: z.enum(DELIVERY_STATUSES).optional(),
  event: z.enum(NOTIFICATION_EVENT_TYPES).optional(),
});

const CURSOR = /^(\d{1,15})_([0-9A-Za-z-]{1,64})$/;

export const BulkRedeliverSchema = z
  .object({
    status: z
      .preprocess(
        (value) => (typeof value === "string" ? [value] : value),
        z.array(z.enum(DELIVERY_STATUSES)).min(1).max(DELIVERY_STATUSES.length),
      )
      .optional()
      .openapi({
        description:
          "Statuses to redeliver (one or a list); default `pending`, `retrying` and `failed` (a `succeeded` one only when named).",
      }),
    event: z.enum(NOTIFICATION_EVENT_TYPES).optional().openapi({ description: "Only deliveries of this event type." }),
    after: isoDateParam("Only deliveries created at or after this time (ISO 8601; UTC without an offset)."),
    before: isoDateParam("Only deliveries created before this time."),
    limit: z.coerce.number().int().min(1).max(1000).optional().openapi({ description: "At most this many (default and maximum 1,000)." }),
    cursor: z
      .string()
      .transform((value, ctx) => {
        const m = CURSOR.exec(value);
        if (!m) {
          ctx.addIssue({ code: "custom", message: "Invalid cursor: pass back the `cursor` of the previous answer." });
          return z.NEVER;
        }
        return { createdAt: Number(m[1]), id: m[2]! };
      })
      .optional()
      .openapi({ type: "string", description: "The previous answer's `cursor`: go on after its last delivery." }),
  })
  .strict()
  .superRefine((input, ctx) => {
    if (input.after !== undefined && input.before !== undefined && input.after >= input.before) {
      ctx.addIssue({ code: "custom", path: ["before"], message: "before must be later than after." });
    }
  })
  .openapi("BulkRedeliver");

export const BulkRedeliverResultSchema = z
  .object({
    count: z.number().int().openapi({ description: "Deliveries queued again by this call." }),
    has_more: z.boolean().openapi({ description: "More deliveries match: call again with `cursor`." }),
    cursor: z
      .string()
      .nullable()
      .openapi({ description: "Pass it back to go on after this call's last delivery; null when none is left." }),
  })
  .openapi("BulkRedeliverResult");

const DestinationIdParam = { destination_id: z.string().openapi({ param: { name: "destination_id", in: "path" } }) };
const DeliveryIdParam = { delivery_id: z.string().openapi({ param: { name: "delivery_id", in: "path" } }) };

/** The same ten routes under a project and under an organization. */
/** `ids` prefixes the operation ids: `destinations` and `organizations_destinations`, as PostHog names nested viewsets. */
function destinationRoutes<S extends z.ZodRawShape>(prefix: string, ids: string, ownerShape: S, who: string, readLevel: RouteLevel) {
  const readers = `${readLevel}s`;
  const tags = ["notifications"];
  const base = `${prefix}/destinations`;
  const one = `${base}/{destination_id}`;
  const ownerParams = z.object(ownerShape);
  const destinationParams = z.object({ ...ownerShape, ...DestinationIdParam });
  return {
    list: createRoute({
      method: "get",
      path: base,
      operationId: `${ids}_list`,
      tags,
      summary: `List ${who} notification destinations (${readers})`,
      ...secured("activity_log:read", readLevel, { oneTrip: true }),
      request: { params: ownerParams, query: LimitOffsetQuery },
      responses: { 200: json(paginated(DestinationSchema), "Destinations"), ...errorResponses },
    }),
    create: createRoute({
      method: "post",
      path: base,
      operationId: `${ids}_create`,
      tags,
      summary: `Create ${who} Slack or webhook destination (admins); a webhook's secret is shown once`,
      ...secured("activity_log:write", "admin"),
      request: { params: ownerParams, body: jsonBody(DestinationCreateSchema) },
      responses: { 201: json(DestinationSchema, "Created"), ...errorResponses },
    }),
    get: createRoute({
      method: "get",
      path: one,
      operationId: `${ids}_retrieve`,
      tags,
      summary: `Retrieve ${who} destination (${readers})`,
      ...secured("activity_log:read", readLevel, { oneTrip: true }),
      request: { params: destinationParams },
      responses: { 200: json(DestinationSchema, "Destination"), ...errorResponses },
    }),
    update: createRoute({
      method: "patch",
      path: one,
      operationId: `${ids}_partial_update`,
      tags,
      summary: `Update ${who} destination (admins); enabling it again clears disabled_reason`,
      ...secured("activity_log:write", "admin"),
      request: { params: destinationParams, body: jsonBody(DestinationUpdateSchema) },
      responses: { 200: json(DestinationSchema, "Updated"), ...errorResponses },
    }),
    remove: createRoute({
      method: "delete",
      path: one,
      operationId: `${ids}_destroy`,
      tags,
      summary: `Delete ${who} destination and its delivery log (admins)`,
      ...secured("activity_log:write", "admin"),
      request: { params: destinationParams },
      responses: { 204: { description: "Deleted" }, ...errorResponses },
    }),
    rotate: createRoute({
      method: "post",
      path: `${one}/rotate_secret`,
      operationId: `${ids}_rotate_secret_create`,
      tags,
      summary: "Rotate a webhook's signing secret (admins): the new one is shown once, the old one keeps signing for 24 h",
      ...secured("activity_log:write", "admin"),
      request: { params: destinationParams },
      responses: { 200: json(DestinationSchema, "Destination with its new secret"), ...errorResponses },
    }),
    test: createRoute({
      method: "post",
      path: `${one}/test`,
      operationId: `${ids}_test_create`,
      tags,
      summary: "Send a test event now and return the receiver's answer (admins)",
      ...secured("activity_log:write", "admin"),
      request: { params: destinationParams },
      responses: { 200: json(TestResultSchema, "The receiver's answer"), ...errorResponses },
    }),
    deliveries: createRoute({
      method: "get",
      path: `${one}/deliveries`,
      operationId: `${ids}_deliveries_list`,
      tags,
      summary: `Delivery log of ${who} destination, newest first, with every attempt (${readers})`,
      ...secured("activity_log:read", readLevel, { oneTrip: true }),
      request: { params: destinationParams, query: DeliveryListQuery },
      responses: { 200: json(paginated(DeliverySchema), "Deliveries"), ...errorResponses },
    }),
    redeliver: createRoute({
      method: "post",
      path: `${one}/deliveries/{delivery_id}/redeliver`,
      operationId: `${ids}_deliveries_redeliver_create`,
      tags,
      summary: "Send a delivery again with the same webhook-id (admins)",
      ...secured("activity_log:write", "admin"),
      request: { params: z.object({ ...ownerShape, ...DestinationIdParam, ...DeliveryIdParam }) },
      responses: {
        202: json(DeliverySchema, "Queued"),
        409: json(ErrorSchema, "`destination_disabled`: enable the destination first"),
        ...errorResponses,
      },
    }),
    bulkRedeliver: createRoute({
      method: "post",
      path: `${one}/deliveries/redeliver`,
      operationId: `${ids}_deliveries_bulk_redeliver_create`,
      tags,
      summary:
        "Send again every delivery matching a filter (status, event, created_at range), oldest first, at most 1,000 per call, each with its own webhook-id (admins)",
      ...secured("activity_log:write", "admin"),
      request: { params: destinationParams, body: jsonBody(BulkRedeliverSchema) },
      responses: {
        202: json(BulkRedeliverResultSchema, "Queued"),
        409: json(ErrorSchema, "`destination_disabled`: enable the destination first"),
        ...errorResponses,
      },
    }),
  };
}

export const projectDestinationRoutes = destinationRoutes(
  "/api/projects/{project_id}",
  "destinations",
  ProjectIdParams.shape,
  "a project's",
  "member",
);
export const organizationDestinationRoutes = destinationRoutes(
  "/api/organizations/{id}",
  "organizations_destinations",
  OrganizationIdParams.shape,
  "an organization's",
  "admin",
);
