import type { Cell, ExportColumn, ExportProducer } from "../exports";
import { iso } from "../lib/time";
import { type ActivityFilters, type ActivityRowRecord, countActivity, iterateActivity, type Partition } from "./activity.queries";

/** What an activity export stores as its job's `filters`: the compiled filters and the tenants. */
export interface ActivityExportFilters {
  filters: Omit<ActivityFilters, "extra">;
  partitions: Partition[];
}

/** PostHog's flat export columns (ActivityLogFlatExportSerializer), then who really recorded the row. */
export const ACTIVITY_EXPORT_COLUMNS: ExportColumn[] = [
  { name: "id", type: "text" },
  { name: "organization_id", type: "text" },
  { name: "project_id", type: "number" },
  { name: "user_first_name", type: "text" },
  { name: "user_last_name", type: "text" },
  { name: "user_email", type: "text" },
  { name: "activity", type: "text" },
  { name: "scope", type: "text" },
  { name: "item_id", type: "text" },
  { name: "detail", type: "text" },
  { name: "client", type: "text" },
  { name: "ip_address", type: "text" },
  { name: "created_at", type: "date" },
  { name: "recorded_by_user_id", type: "number" },
  { name: "recorded_by_user_email", type: "text" },
  { name: "recorded_by_api_key_id", type: "text" },
  // The rest of the hashed fields (recorded_by's are above) and the chain, so an export verifies
  // offline (scripts/verify-export.mjs).
  { name: "user_id", type: "number" },
  { name: "was_impersonated", type: "text" },
  { name: "is_system", type: "text" },
  { name: "sequence", type: "number" },
  { name: "hash", type: "text" },
  // Which of those fields the hash covers: 1 without recorded_by (rows sealed before it was hashed), 2 with it.
  { name: "hash_version", type: "number" },
];

const EXPORT_PAGE_SIZE = 1000;

function exportRow(row: ActivityRowRecord): Cell[] {
  return [
    row.id,
    row.organization_id,
    row.team_id,
    row.u_first_name ?? "",
    row.u_last_name ?? "",
    row.u_email ?? "",
    row.activity,
    row.scope,
    row.item_id,
    row.detail && row.detail !== "{}" ? row.detail : "",
    row.client,
    row.ip_address,
    iso(row.created_at),
    row.recorded_by_user_id,
    row.r_email ?? "",
    row.recorded_by_key_id,
    row.user_id,
    row.was_impersonated ? "true" : "false",
    row.is_system ? "true" : "false",
    row.sequence,
    row.hash ?? "",
    row.hash_version,
  ];
}

export const activityExportSource: ExportProducer = async (env, job) => {
  const { filters, partitions } = job.filters as unknown as ActivityExportFilters;
  return {
    columns: ACTIVITY_EXPORT_COLUMNS,
    sheetName: "Activity logs",
    count: () => countActivity(env.DB, partitions, filters),
    async *pages() {
      for await (const rows of iterateActivity(env.DB, partitions, filters, "desc", EXPORT_PAGE_SIZE)) yield rows.map(exportRow);
    },
  };
};
