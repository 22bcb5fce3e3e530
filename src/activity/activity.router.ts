import type { Context } from "hono";
import { writeContext } from "../audit/record";
import { organizationAccess, projectAccess, projectIdOf } from "../auth/access";
import type { AppBindings, Project } from "../auth/context";
import { MembershipLevel } from "../auth/levels";
import { callerOf } from "../auth/one-trip";
import { createDb } from "../db/client";
import { activityNotificationBookmarks } from "../db/schema";
import { startExport } from "../exports";
import { createRouter } from "../http/router";
import { parseIsoDate, toEpochMs } from "../lib/dates";
import { validationError } from "../lib/errors";
import { toHex } from "../lib/ids";
import { iso } from "../lib/time";
import type { ActivityExportFilters } from "./activity.export";
import { activityPage, asActivityLog, bookmarkOf } from "./activity.pages";
import type { ActivityFilters, Partition } from "./activity.queries";
import {
  availableFiltersOrganization,
  availableFiltersProject,
  bookmarkNotification,
  exportOrganization,
  exportProject,
  importantChanges,
  ingest,
  listActivity,
  listAdvancedOrganization,
  listAdvancedProject,
} from "./activity.routes";
import { type AdvancedFilters, toActivityFilters, withRowFields } from "./activity.schemas";
import { availableFilters, REQUEST_FACET_ROWS, refreshFacets } from "./facets";
import { importantChangesFor } from "./important-changes";
import { ingestActivity, ingestComponents } from "./ingest";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The organization endpoint's tenants: the whole organization (its projects and its
 * organization-level rows), or the requested `team_ids` of it (project-scoped keys never get here:
 * organization routes refuse them). Requested ids are checked against the organization inside the
 * query (`Partition.organizationId`), which saves a round trip.
 */
function organizationPartitions(organizationId: string, teamIds: number[] | undefined): Partition[] {
  if (!teamIds?.length) return [{ column: "organization_id", value: organizationId }];
  return [...new Set(teamIds)].sort((a, b) => a - b).map((id) => ({ column: "team_id", value: id, organizationId }));
}

/** Keys sorted at every level, so equal filters hash equally. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** PostHog's export file name: `activity_logs_<md5 of the filters, 6 hex>_<YYYYMMDD>`. */
async function exportFilename(filters: ActivityExportFilters, format: "csv" | "xlsx"): Promise<string> {
  const digest = await crypto.subtle.digest("MD5", new TextEncoder().encode(canonicalJson(filters)));
  const date = new Date().toISOString().slice(0, 10).replaceAll("-", "");
  return `activity_logs_${toHex(new Uint8Array(digest)).slice(0, 6)}_${date}.${format}`;
}

async function queueExport(
  c: Context<AppBindings>,
  target: { organizationId: string; teamId: number | null },
  partitions: Partition[],
  filters: ActivityFilters,
  format: "csv" | "xlsx",
) {
  const stored: ActivityExportFilters = { filters, partitions };
  const id = await startExport(
    writeContext(c, createDb(c.env.DB)),
    {
      ...target,
      kind: "activity_log",
      format,
      filters: stored as unknown as Record<string, unknown>,
      filename: await exportFilename(stored, format),
    },
    c.var.auth.user.id,
  );
  return c.json({ id, export_format: format }, 202);
}

/** A project's rows, and its organization's organization-level rows when the project includes them. */
function projectPartitions(project: Project): Partition[] {
  const own: Partition = { column: "team_id", value: project.id };
  if (!project.receiveOrgLevelActivityLogs) return [own];
  return [own, { column: "organization_id", value: project.organizationId, organizationLevel: true }];
}

function narrowTeams(teamIds: number[] | undefined, teamId: number) {
  if (teamIds?.length && !teamIds.includes(teamId)) throw validationError("Conflicts with filters: team_id is not among them.", "team_id");
  return [teamId];
}

/** Rows past the facets' mark fold in after the answer, off the response path (the cron does it too). */
function foldFacets(c: Context<AppBindings>) {
  c.executionCtx.waitUntil(refreshFacets(c.var.backgroundDb, REQUEST_FACET_ROWS).then(() => undefined));
}

const withoutTeams = ({ team_ids: _ignored, ...rest }: AdvancedFilters): AdvancedFilters => rest;

/**
 * A project's page in one round trip (a one-trip route): read before the project is known as if it
 * took no organization-level rows (the default), then, in the rare project that includes them,
 * read again with them once the key lookup has shown the project.
 */
async function projectPage(
  c: Context<AppBindings>,
  projectIdParam: number | string,
  filters: ActivityFilters,
  query: Parameters<typeof activityPage>[4],
) {
  const id = projectIdOf(c, projectIdParam);
  const read = (partitions: Partition[]) => activityPage(c.env.DB, c.req.url, partitions, filters, query, asActivityLog, callerOf(c));
  const page = await read([{ column: "team_id", value: id }]);
  const { project } = await projectAccess(c, id);
  return project.receiveOrgLevelActivityLogs ? read(projectPartitions(project)) : page;
}

export const activityRouter = createRouter()
  .openapi(ingest, async (c) => {
    const access = await projectAccess(c, c.req.valid("param").project_id);
    const { answer, replayed } = await ingestActivity(c, access, c.req.valid("json"));
    if (replayed) c.header("idempotent-replayed", "true");
    return c.json(answer.body as never, answer.status);
  })
  .openapi(listActivity, async (c) => {
    const query = c.req.valid("query");
    const filters: ActivityFilters = {};
    if (query.user) {
      if (/^\d+$/.test(query.user)) filters.userIds = [Number(query.user)];
      else if (UUID.test(query.user)) filters.users = [query.user];
      else throw validationError("Must be a user id or UUID.", "user");
    }
    const scopes = query.scopes;
    if (query.scope && scopes?.length && !scopes.includes(query.scope)) return c.json({ next: null, previous: null, results: [] }, 200);
    filters.scopes = query.scope ? [query.scope] : scopes;
    if (query.item_id) filters.itemIds = [query.item_id];
    return c.json(await projectPage(c, c.req.valid("param").project_id, filters, query), 200);
  })
  .openapi(importantChanges, async (c) => {
    const { project } = await projectAccess(c, c.req.valid("param").project_id);
    const bookmark = await bookmarkOf(c.env.DB, c.var.auth.user.id);
    const results = await importantChangesFor(
      c.env.DB,
      project.id,
      c.var.auth.user.id,
      c.req.valid("query").unread === "true" ? bookmark : null,
    );
    return c.json(
      {
        results: results.map((row) => ({ ...row, unread: bookmark === null || bookmark < Date.parse(row.created_at) })),
        last_read: iso(bookmark),
      },
      200,
    );
  })
  .openapi(bookmarkNotification, async (c) => {
    await projectAccess(c, c.req.valid("param").project_id);
    const parsed = parseIsoDate(c.req.valid("json").bookmark);
    if (!parsed) throw validationError("Datetime has wrong format. Use ISO 8601, e.g. 2024-01-31T12:00:00Z.", "bookmark");
    const at = new Date(toEpochMs(parsed));
    // Per-user read state, not a change to any resource: no activity row (it would itself be unread).
    await createDb(c.env.DB)
      .insert(activityNotificationBookmarks)
      .values({ userId: c.var.auth.user.id, lastViewedActivityDate: at })
      .onConflictDoUpdate({ target: activityNotificationBookmarks.userId, set: { lastViewedActivityDate: at } });
    return c.body(null, 204);
  })
  .openapi(listAdvancedProject, async (c) => {
    const query = c.req.valid("query");
    const filters = toActivityFilters(withoutTeams(query));
    return c.json(await projectPage(c, c.req.valid("param").project_id, filters, query), 200);
  })
  .openapi(availableFiltersProject, async (c) => {
    const projectId = projectIdOf(c, c.req.valid("param").project_id);
    const include = c.req.valid("query").include_detail_fields !== "false";
    const { body, pending } = await availableFilters(c.env.DB, { projectId }, include);
    await projectAccess(c, projectId);
    if (pending) foldFacets(c);
    return c.json(body, 200);
  })
  .openapi(exportProject, async (c) => {
    const { project } = await projectAccess(c, c.req.valid("param").project_id);
    const body = c.req.valid("json");
    if (body.team_id !== undefined && body.team_id !== project.id) throw validationError("Not this project.", "team_id");
    const filters = withRowFields(toActivityFilters(withoutTeams(body.filters)), body);
    return queueExport(c, { organizationId: project.organizationId, teamId: project.id }, projectPartitions(project), filters, body.format);
  })
  .openapi(listAdvancedOrganization, async (c) => {
    const organizationId = c.req.valid("param").organization_id;
    const query = c.req.valid("query");
    const filters = toActivityFilters(query);
    const partitions = organizationPartitions(organizationId, query.team_ids);
    const page = await activityPage(c.env.DB, c.req.url, partitions, filters, query, asActivityLog, callerOf(c));
    await organizationAccess(c, organizationId, MembershipLevel.admin);
    return c.json(page, 200);
  })
  .openapi(availableFiltersOrganization, async (c) => {
    const organizationId = c.req.valid("param").organization_id;
    const include = c.req.valid("query").include_detail_fields !== "false";
    const { body, pending } = await availableFilters(c.env.DB, { organizationId }, include);
    await organizationAccess(c, organizationId, MembershipLevel.admin);
    if (pending) foldFacets(c);
    return c.json(body, 200);
  })
  .openapi(exportOrganization, async (c) => {
    const { organization } = await organizationAccess(c, c.req.valid("param").organization_id, MembershipLevel.admin);
    const body = c.req.valid("json");
    const filters = withRowFields(toActivityFilters(body.filters), body);
    const teamIds = body.team_id === undefined ? body.filters.team_ids : narrowTeams(body.filters.team_ids, body.team_id);
    const partitions = organizationPartitions(organization.id, teamIds);
    return queueExport(c, { organizationId: organization.id, teamId: null }, partitions, filters, body.format);
  });

for (const [name, schema] of Object.entries(ingestComponents)) activityRouter.openAPIRegistry.register(name, schema);
