import { createRoute, z } from "@hono/zod-openapi";
import { PaginationQuery, STANDARD_ID } from "../activity";
import { errorResponses, json, secured } from "../http/openapi";

const integer = (description: string) =>
  z.coerce.number({ message: "A valid integer is required." }).int().optional().openapi({ description, type: "integer" });

export const FeedQuery = PaginationQuery.omit({ ordering: true, follow: true }).extend({
  actor: integer("Activities performed by this user id."),
  application: integer("Activities of this project (an application is a project here)."),
  application_desc: z.string().optional().openapi({ description: "Activities of the project with this name, also after it was deleted." }),
  business_unit: z
    .string()
    .optional()
    .openapi({ description: "Activities of this organization (a business unit is an organization here)." }),
  business_unit_desc: z.string().optional().openapi({ description: "Activities of the organization with this name." }),
  project: integer("Activities of this project."),
  project_desc: z.string().optional().openapi({ description: "Activities of the project with this name, also after it was deleted." }),
  user: integer("Activities whose object is this user (not performed by them)."),
  date_from: z
    .string()
    .optional()
    .openapi({ description: "At or after; ISO 8601. A trailing Z means UTC, no offset means the organization's time zone." }),
  date_to: z.string().optional().openapi({ description: "At or before; same rules as date_from." }),
  id: integer("The activity with this id."),
  name: z.string().optional().openapi({ description: "e.g. UpdatedFeatureFlagActivity." }),
  standard: z
    .string()
    .regex(STANDARD_ID, "A standard id is T<number> (built-in) or CT<number> (custom).")
    .optional()
    .openapi({ description: "Activities that reference this standard: `T<n>` built-in, `CT<n>` custom." }),
  standard_desc: z.string().optional().openapi({
    description:
      'Activities that reference the standard with this full name, e.g. "T21: Ensure confidential data is sent over an encrypted channel".',
  }),
});

export const FeedActivitySchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    actor: z.number().int().nullable(),
    text: z.string(),
    date: z.string(),
    data: z.record(z.string(), z.unknown()),
    icon: z.string(),
    log_level: z.string(),
    recorded_by: z
      .object({ user: z.number().int().nullable(), api_key_id: z.string().nullable() })
      .nullable()
      .openapi({ description: "Who really wrote the row (user id and API key id), whatever `actor` says; null for the system's rows." }),
    sequence: z.number().int().nullable().openapi({ description: "The row's place in its organization's hash chain (null until sealed)." }),
    hash: z.string().nullable(),
  })
  .openapi("SdeActivity");

const FeedPageSchema = z
  .object({
    count: z.number().int().optional(),
    next: z.string().nullable(),
    previous: z.string().nullable(),
    results: z.array(FeedActivitySchema),
  })
  .openapi("SdeActivityPage");

const tags = ["sd_elements"];

export const listFeed = createRoute({
  method: "get",
  path: "/api/v2/activities",
  operationId: "v2_activities_list",
  tags,
  summary: "SD Elements activities feed over the activity log of every organization the caller belongs to",
  description: "Accepts `Authorization: Token <personal API key>`. Newest first; cursor pages by default, page numbers with `page`.",
  ...secured("activity_log:read", "user", { oneTrip: true }),
  request: { query: FeedQuery },
  responses: { 200: json(FeedPageSchema, "Activities"), ...errorResponses },
});

export const getFeedActivity = createRoute({
  method: "get",
  path: "/api/v2/activities/{activity_id}",
  operationId: "v2_activities_retrieve",
  tags,
  summary: "One activity of the SD Elements feed",
  ...secured("activity_log:read", "user"),
  request: { params: z.object({ activity_id: z.string().openapi({ param: { name: "activity_id", in: "path" }, example: "2" }) }) },
  responses: { 200: json(FeedActivitySchema, "Activity"), ...errorResponses },
});
