import { z } from "@hono/zod-openapi";
import { isoDateParam } from "../lib/dates";
import { validationError } from "../lib/errors";
import { listParam } from "../lib/list-param";
import { UserBasicSchema } from "../users";
import type { ActivityFilters } from "./activity.queries";
import { parseDetailFilters } from "./detail-filters";

// Query parameters as PostHog's serializers read them: lists as `listParam` reads them; an
// optional boolean accepts true/false/1/0 and "null" or "" for "no filter"; dates are ISO 8601
// (naive = UTC).

export const optionalBoolean = (description: string) =>
  z
    .preprocess((v) => {
      if (v === undefined || v === null || v === "" || v === "null") return null;
      if (typeof v === "boolean") return v;
      const s = String(v).toLowerCase();
      if (s === "true" || s === "1") return true;
      if (s === "false" || s === "0") return false;
      return v;
    }, z.boolean({ message: "Must be a valid boolean." }).nullable())
    .optional()
    .openapi({ description, type: "boolean" });

const IP_FILTER = /^[0-9a-fA-F:.*]+$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const ipOrWildcard = z.string().refine(
  (v) => {
    if (!IP_FILTER.test(v)) return false;
    if (v.includes("*")) return true;
    if (IPV4.test(v)) return v.split(".").every((octet) => Number(octet) <= 255);
    return v.includes(":");
  },
  { message: "Invalid IP address format. Use a valid IPv4/IPv6 address or a wildcard like `203.0.113.*`." },
);

export const ORDERINGS = ["-created_at", "created_at"] as const;

export const PaginationQuery = z.object({
  ordering: z.enum(ORDERINGS).optional().openapi({ description: "`-created_at` (default, newest first) or `created_at`." }),
  cursor: z.string().optional().openapi({ description: "Opaque cursor from a `next` or `previous` link." }),
  page: z.coerce.number().int().min(1).optional().openapi({ description: "Switches to page-number pagination (with `count`)." }),
  page_size: z.coerce.number().int().min(1).max(1000).default(100).openapi({ description: "Rows per page (default 100, max 1000)." }),
  follow: optionalBoolean("With `ordering=created_at`: keep `next` at the tail so a client can poll for new rows."),
});

/** The advanced filters, shared by the list query string and the export body's `filters`. */
export const AdvancedFiltersSchema = z.object({
  start_date: isoDateParam("Lower bound on `created_at` (inclusive)."),
  end_date: isoDateParam("Upper bound on `created_at` (inclusive)."),
  users: listParam(z.string().uuid({ message: "Must be a valid UUID." }), "UUIDs of the users who performed the activity."),
  recorded_by: listParam(
    z.string().min(1).max(254),
    "Who recorded the rows (`recorded_by`): user ids, UUIDs or emails, or personal API key ids, ORed.",
  ),
  scopes: listParam(z.string().max(79), "Scopes, e.g. FeatureFlag."),
  activities: listParam(z.string().max(79), "Activities, e.g. created, updated, deleted."),
  clients: listParam(z.string().max(32), "Self-reported clients (`X-PostHog-Client`)."),
  item_ids: listParam(z.string().max(72), "Ids of the affected resources."),
  ip_addresses: listParam(ipOrWildcard, "Exact IPv4/IPv6 addresses or `*` wildcards, ORed."),
  team_ids: listParam(z.coerce.number().int(), "Projects (organization endpoint only; ignored on a project)."),
  search_text: z.string().max(500).optional().openapi({ description: "Case-insensitive substring of the `detail` JSON." }),
  was_impersonated: optionalBoolean("true/false; unset or null = no filter."),
  is_system: optionalBoolean("true/false; unset or null = no filter."),
  detail_filters: z
    .union([z.string(), z.record(z.string(), z.unknown())])
    .optional()
    .openapi({
      description: 'JSON object `{"<path>": {"operation": "exact"|"in"|"contains", "value": ...}}`; paths use dots and `[]` for arrays.',
      type: "string",
    }),
  hogql_filter: z.string().optional().openapi({ description: "Accepted and ignored, as in PostHog (reserved)." }),
});
export type AdvancedFilters = z.infer<typeof AdvancedFiltersSchema>;

export const AdvancedListQuery = AdvancedFiltersSchema.extend(PaginationQuery.shape);

export function toActivityFilters(q: AdvancedFilters): ActivityFilters {
  return {
    startDate: q.start_date,
    endDate: q.end_date,
    users: q.users,
    recordedBy: q.recorded_by,
    scopes: q.scopes,
    activities: q.activities,
    clients: q.clients,
    itemIds: q.item_ids,
    ipAddresses: q.ip_addresses,
    searchText: q.search_text || undefined,
    wasImpersonated: q.was_impersonated,
    isSystem: q.is_system,
    detailFilters: q.detail_filters === undefined || q.detail_filters === "" ? undefined : parseDetailFilters(q.detail_filters),
  };
}

/**
 * The activity row fields seed 001's export example sends as its body (`user`, `activity`,
 * `scope`): each is applied as a one-value filter, never ignored.
 */
export const ExportRowFields = {
  user: z.union([z.number().int(), z.string().uuid()]).optional().openapi({ description: "The acting user's id or UUID." }),
  team_id: z.number().int().optional().openapi({ description: "A project (the organization endpoint; on a project, that project)." }),
  was_impersonated: z.boolean().optional(),
  is_system: z.boolean().optional(),
  client: z.string().max(32).optional(),
  activity: z.string().max(79).optional(),
  item_id: z.string().max(72).optional(),
  scope: z.string().max(79).optional(),
};
type RowFields = { [K in keyof typeof ExportRowFields]?: z.infer<(typeof ExportRowFields)[K]> };

function narrowList<T>(list: T[] | undefined, value: T | undefined, attr: string): T[] | undefined {
  if (value === undefined) return list;
  if (list?.length && !list.includes(value)) throw validationError(`Conflicts with filters: ${attr} is not among them.`, attr);
  return [value];
}

function narrowFlag(flag: boolean | null | undefined, value: boolean | undefined, attr: string) {
  if (value === undefined) return flag;
  if (flag !== undefined && flag !== null && flag !== value) throw validationError(`Conflicts with filters: ${attr}.`, attr);
  return value;
}

/** `filters` narrowed by the row fields given beside them (a contradiction is a 400, not an empty export). */
export function withRowFields(filters: ActivityFilters, fields: RowFields): ActivityFilters {
  const { user } = fields;
  return {
    ...filters,
    users: typeof user === "string" ? narrowList(filters.users, user, "user") : filters.users,
    userIds: typeof user === "number" ? [user] : filters.userIds,
    scopes: narrowList(filters.scopes, fields.scope, "scope"),
    activities: narrowList(filters.activities, fields.activity, "activity"),
    clients: narrowList(filters.clients, fields.client, "client"),
    itemIds: narrowList(filters.itemIds, fields.item_id, "item_id"),
    wasImpersonated: narrowFlag(filters.wasImpersonated, fields.was_impersonated, "was_impersonated"),
    isSystem: narrowFlag(filters.isSystem, fields.is_system, "is_system"),
  };
}

export const BasicListQuery = PaginationQuery.extend({
  user: z.string().optional().openapi({ description: "The acting user's id or UUID." }),
  scope: z.string().optional(),
  scopes: listParam(z.string().max(79), "Scopes: comma-separated, repeated or a JSON array."),
  item_id: z.string().optional(),
});

export const ActivityLogSchema = z
  .object({
    id: z.string().uuid(),
    user: UserBasicSchema.nullable(),
    unread: z.boolean(),
    organization_id: z.string(),
    team_id: z.number().int().nullable(),
    was_impersonated: z.boolean(),
    is_system: z.boolean(),
    client: z.string().nullable(),
    ip_address: z.string().nullable(),
    activity: z.string(),
    item_id: z.string().nullable(),
    scope: z.string(),
    detail: z.record(z.string(), z.unknown()).nullable(),
    created_at: z.string(),
    recorded_by: z
      .object({ user: UserBasicSchema.nullable(), api_key_id: z.string().nullable() })
      .nullable()
      .openapi({
        description:
          "Who really wrote the row: the authenticated user and personal API key of the request, whatever `user` names. " +
          "Null for the system's rows (cron, alarms, queue jobs) and first-run signup.",
      }),
    sequence: z.number().int().nullable().openapi({
      description: "Place in the organization's hash chain, gapless from 1; null for the moment between the write and its sealing.",
    }),
    hash: z.string().nullable().openapi({ description: "SHA-256 (hex) of the previous row's hash and this row's canonical JSON." }),
  })
  .openapi("ActivityLog", {
    example: {
      id: "0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b",
      user: {
        id: 1,
        uuid: "0193a1b2-0000-7000-8000-000000000001",
        distinct_id: "0193a1b2-0000-7000-8000-000000000001",
        first_name: "Jane",
        last_name: "Doe",
        email: "jane@example.com",
        is_email_verified: true,
        hedgehog_config: null,
        role_at_organization: null,
      },
      unread: false,
      organization_id: "0193a1b2-0000-7000-8000-0000000000aa",
      team_id: 1,
      was_impersonated: false,
      is_system: false,
      client: "posthog-js",
      ip_address: "203.0.113.7",
      activity: "updated",
      item_id: "42",
      scope: "FeatureFlag",
      detail: {
        name: "new-checkout",
        changes: [{ type: "FeatureFlag", action: "changed", field: "rollout_percentage", before: 10, after: 50 }],
      },
      created_at: "2026-12-04T10:00:00.000Z",
      recorded_by: { user: null, api_key_id: "0193a1b2-0000-7000-8000-0000000000bb" },
      sequence: 1042,
      hash: "9f2c4e0d7b1a6c3e5f8a2b4d6e8f0a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f",
    },
  });

export const CursorPageSchema = z
  .object({
    count: z.number().int().optional().openapi({ description: "Only in page-number mode." }),
    next: z.string().nullable(),
    previous: z.string().nullable(),
    results: z.array(ActivityLogSchema),
  })
  .openapi("ActivityLogPage");
