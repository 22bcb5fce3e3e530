import type { Context } from "hono";
import type { ActivityRowRecord, Partition, TenantQuery } from "../activity";
import { itemQuery, SEARCH_FEW, SEARCH_MARK_SQL, SqlParams, searchCandidates, searchProbe } from "../activity";
import type { AppBindings } from "../auth/context";
import { MembershipLevel } from "../auth/levels";
import { iso } from "../lib/time";

// The SD Elements activities feed (seed 004) over this service's activity log.
// Mapping: a business unit is an organization; an application and a project are both a project
// of this service (SD Elements has three levels, this service two). Row ids are the log's integer
// `seq`. `name` is <Activity><Scope>Activity ("UpdatedFeatureFlagActivity"), `text` the sentence
// "<actor> <activity> <scope in words> <object name>".

const USER_SCOPES = ["User", "OrganizationMembership"];

export interface FeedTenant {
  organizationId: string;
  organizationName: string;
  timezone: string;
  /** Admins and owners see the organization-level rows too; members only their projects' rows. */
  wholeOrganization: boolean;
  projectIds: number[];
  /** The key is limited to some projects: deleted projects stay out of reach. */
  restricted: boolean;
}

/** What the caller may read: every organization they belong to, narrowed by the key's restrictions. */
export async function feedTenants(c: Context<AppBindings>): Promise<FeedTenant[]> {
  const { results } = await c.env.DB.prepare(
    `SELECT o.id, o.name, o.timezone, m.level, (SELECT json_group_array(p.id) FROM projects AS p WHERE p.organization_id = o.id) AS projects
     FROM organization_memberships AS m JOIN organizations AS o ON o.id = m.organization_id
     WHERE m.user_id = ?1 AND (o.members_can_use_personal_api_keys = 1 OR m.level >= ?2) ORDER BY m.joined_at`,
  )
    // An organization refusing its members' keys is left out of their feed (see `projectAccess`).
    .bind(c.var.auth.user.id, MembershipLevel.admin)
    .all<{ id: string; name: string; timezone: string; level: number; projects: string }>();
  const { scopedOrganizations, scopedTeams } = c.var.auth.key;
  return results
    .filter((o) => !scopedOrganizations?.length || scopedOrganizations.includes(o.id))
    .map((o) => {
      const projectIds = (JSON.parse(o.projects) as number[]).filter((id) => !scopedTeams?.length || scopedTeams.includes(id));
      return {
        organizationId: o.id,
        organizationName: o.name,
        timezone: o.timezone,
        wholeOrganization: o.level >= MembershipLevel.admin && !scopedTeams?.length,
        projectIds,
        restricted: Boolean(scopedTeams?.length),
      };
    });
}

const KEY_USER = (param: string) => `(SELECT user_id FROM personal_api_keys WHERE secure_value = ${param})`;

/**
 * `feedTenants` inside the statement (a one-trip read: the caller is known by the key's hash only):
 * the caller's organizations, narrowed by the key's restrictions and optionally to one
 * `business_unit` / `business_unit_desc`; an admin's whole organization, a member's projects.
 */
export function feedTenantQuery(keyHash: string, only: { id?: string; name?: string }): TenantQuery {
  return {
    sql: (params) => {
      const key = params.add(keyHash);
      const narrow = [
        ...(only.id !== undefined ? [`o.id = ${params.add(only.id)}`] : []),
        ...(only.name !== undefined ? [`o.name = ${params.add(only.name)}`] : []),
      ];
      const orgs = `feed_orgs(id, whole, scoped_teams) AS MATERIALIZED (
        SELECT o.id, m.level >= ${MembershipLevel.admin} AND coalesce(json_array_length(k.scoped_teams), 0) = 0, k.scoped_teams
        FROM personal_api_keys AS k JOIN organization_memberships AS m ON m.user_id = k.user_id JOIN organizations AS o ON o.id = m.organization_id
        WHERE k.secure_value = ${key} AND (o.members_can_use_personal_api_keys = 1 OR m.level >= ${MembershipLevel.admin})
          AND (coalesce(json_array_length(k.scoped_organizations), 0) = 0 OR o.id IN (SELECT value FROM json_each(k.scoped_organizations)))
          ${narrow.map((c) => `AND ${c}`).join(" ")})`;
      return {
        with: [orgs],
        org: "SELECT id, NULL, NULL, 0 FROM feed_orgs WHERE whole",
        team: `SELECT p.id, NULL, NULL FROM projects AS p JOIN feed_orgs AS fo ON fo.id = p.organization_id
          WHERE NOT fo.whole AND (coalesce(json_array_length(fo.scoped_teams), 0) = 0 OR p.id IN (SELECT value FROM json_each(fo.scoped_teams)))`,
      };
    },
  };
}

/** The names of the caller's organizations and their projects, for the same batch as the page (`serializeFeed`'s `known`). */
export function feedNameStatements(db: D1Database, keyHash: string): D1PreparedStatement[] {
  const organizations = `SELECT organization_id FROM organization_memberships WHERE user_id = ${KEY_USER("?1")}`;
  return [
    db.prepare(`SELECT id, name FROM organizations WHERE id IN (${organizations})`).bind(keyHash),
    db.prepare(`SELECT id, name FROM projects WHERE organization_id IN (${organizations})`).bind(keyHash),
    // Rows about users (`User`, `OrganizationMembership`) name them by id or uuid: the members of the
    // caller's organizations cover nearly all of them (a former member is looked up after the page).
    db
      .prepare(
        `SELECT id, uuid FROM users WHERE id IN (SELECT user_id FROM organization_memberships WHERE organization_id IN (${organizations})) LIMIT ${KNOWN_USERS}`,
      )
      .bind(keyHash),
  ];
}

/** At most this many members' ids read ahead for the feed's user references. */
const KNOWN_USERS = 1000;

/** Names read ahead with the page (`feedNameStatements`). */
export interface KnownNames {
  organizations: { id: string; name: string }[];
  projects: { id: number; name: string }[];
  users: { id: number; uuid: string }[];
}

/**
 * The organization each requested project belongs to, for projects of the caller's organizations:
 * live projects from the tenants, deleted ones from their activity rows (a project's rows all carry
 * its organization).
 */
export async function projectOrganizations(db: D1Database, tenants: FeedTenant[], projectIds: Set<number>): Promise<Map<number, string>> {
  const owners = new Map<number, string>();
  for (const t of tenants) for (const id of t.projectIds) if (projectIds.has(id)) owners.set(id, t.organizationId);
  const organizations = new Set(tenants.filter((t) => !t.restricted).map((t) => t.organizationId));
  const unknown = [...projectIds].filter((id) => !owners.has(id));
  if (!unknown.length || !organizations.size) return owners;
  // One statement for all of them; a project still live (a key restricted to other projects) stays hidden.
  const { results } = await db
    .prepare(
      `SELECT j.value AS id,
         (SELECT organization_id FROM activity_log INDEXED BY activity_log_team_time WHERE team_id = j.value LIMIT 1) AS organization_id
       FROM json_each(?1) AS j WHERE NOT EXISTS (SELECT 1 FROM projects WHERE id = j.value)`,
    )
    .bind(JSON.stringify(unknown))
    .all<{ id: number; organization_id: string | null }>();
  for (const r of results) if (r.organization_id && organizations.has(r.organization_id)) owners.set(r.id, r.organization_id);
  return owners;
}

/** Tenants as query partitions, with per-organization date bounds; `projects` narrows to those projects. */
export function feedPartitions(
  tenants: FeedTenant[],
  projects: Map<number, string> | null,
  bounds: (timezone: string) => { from?: number; to?: number },
): Partition[] {
  return tenants.flatMap((t): Partition[] => {
    const range = bounds(t.timezone);
    if (!projects) {
      if (t.wholeOrganization) return [{ column: "organization_id", value: t.organizationId, ...range }];
      return t.projectIds.map((id): Partition => ({ column: "team_id", value: id, ...range }));
    }
    return [...projects]
      .filter(([, organizationId]) => organizationId === t.organizationId)
      .map(([id]): Partition => ({ column: "team_id", value: id, ...range }));
  });
}

/**
 * Projects named `name` in these organizations: live projects by their current name, deleted ones
 * by the name recorded on their `deleted` activity row (so `_desc` filters outlive the project).
 */
export async function projectIdsNamed(db: D1Database, organizationIds: string[], name: string): Promise<number[]> {
  const params = new SqlParams();
  const orgs = (guard: string) =>
    `a.organization_id IN (SELECT value FROM json_each(${params.add(JSON.stringify(organizationIds))})${guard})`;
  const deleted = `a.scope = 'Project' AND a.activity = 'deleted' AND a.detail ->> '$.name' = ${params.add(name)}`;
  const walk = (guard: string) =>
    `SELECT CAST(a.item_id AS INTEGER) AS id FROM activity_log AS a INDEXED BY activity_log_org_time WHERE ${orgs(guard)} AND ${deleted}`;
  const probe = searchProbe(name, params);
  // A rare name is found from the search index, a common one by walking the organizations' rows (SEARCH_FEW decides, in the statement).
  const deletedRows = probe
    ? [
        `SELECT CAST(a.item_id AS INTEGER) AS id FROM activity_log AS a NOT INDEXED WHERE ${searchCandidates("a.seq")} AND ${orgs("")} AND ${deleted}`,
        walk(` WHERE NOT ${SEARCH_FEW}`),
      ]
    : [walk("")];
  const { results } = await db
    .prepare(
      `${probe ? `WITH ${probe} ` : ""}SELECT p.id FROM projects AS p WHERE p.organization_id IN (SELECT value FROM json_each(${params.add(JSON.stringify(organizationIds))})) AND p.name = ${params.add(name)}
       UNION ${deletedRows.join(" UNION ")}`,
    )
    .bind(...params.values)
    .all<{ id: number }>();
  return results.map((r) => r.id);
}

/** Rows that reference a user as their object (the SD Elements `user` filter), by the user's id or uuid. */
export async function userReference(db: D1Database, userId: number): Promise<{ scopes: string[]; itemIds: string[] }> {
  const user = await db.prepare("SELECT uuid FROM users WHERE id = ?1").bind(userId).first<{ uuid: string }>();
  return { scopes: USER_SCOPES, itemIds: user ? [String(userId), user.uuid] : [String(userId)] };
}

const words = (pascal: string) =>
  pascal
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .toLowerCase();
const snake = (pascal: string) => words(pascal).replace(/[^a-z0-9]+/g, "_");
const pascalCase = (text: string) =>
  text
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join("");

/** "UpdatedFeatureFlagActivity" for (FeatureFlag, updated). */
export const activityName = (scope: string, activity: string) => `${pascalCase(activity)}${pascalCase(scope)}Activity`;

function icon(scope: string, activity: string): string {
  if (USER_SCOPES.includes(scope) || ["Role", "OrganizationInvite", "PersonalAPIKey"].includes(scope)) return "user";
  if (activity === "created") return "plus";
  if (activity === "deleted") return "trash";
  if (activity === "exported") return "download";
  if (activity === "updated" || activity === "changed") return "edit";
  return "info";
}

function logLevel(activity: string): string {
  if (activity === "created") return "success";
  if (activity === "deleted" || activity === "revoked") return "warning";
  if (/fail|error/i.test(activity)) return "error";
  return "";
}

/** Names for a page of rows: organizations, live projects, the last recorded name of deleted projects, referenced users. */
async function pageNames(db: D1Database, rows: ActivityRowRecord[], known?: KnownNames) {
  const orgIds = [...new Set(rows.map((r) => r.organization_id))];
  const teamIds = [...new Set(rows.map((r) => r.team_id).filter((id): id is number => id !== null))];
  const knownUsers = new Set(known?.users.flatMap((u) => [u.uuid, String(u.id)]));
  const userItems = [
    ...new Set(
      rows.filter((r) => USER_SCOPES.includes(r.scope) && r.item_id && !knownUsers.has(r.item_id)).map((r) => r.item_id as string),
    ),
  ];
  const none = <T>() => Promise.resolve({ results: [] as T[] });
  // Names read ahead with the page are not read again; a page naming users reads them now.
  const [orgs, projects, users] = await Promise.all([
    known
      ? { results: known.organizations }
      : db
          .prepare("SELECT id, name FROM organizations WHERE id IN (SELECT value FROM json_each(?1))")
          .bind(JSON.stringify(orgIds))
          .all<{ id: string; name: string }>(),
    known
      ? { results: known.projects }
      : db
          .prepare("SELECT id, name FROM projects WHERE id IN (SELECT value FROM json_each(?1))")
          .bind(JSON.stringify(teamIds))
          .all<{ id: number; name: string }>(),
    !userItems.length
      ? none<{ id: number; uuid: string }>()
      : db
          .prepare(
            "SELECT id, uuid FROM users WHERE uuid IN (SELECT value FROM json_each(?1)) OR CAST(id AS TEXT) IN (SELECT value FROM json_each(?1))",
          )
          .bind(JSON.stringify(userItems))
          .all<{ id: number; uuid: string }>(),
  ]);
  const projectNames = new Map(projects.results.map((p) => [p.id, p.name]));
  const gone = teamIds.filter((id) => !projectNames.has(id));
  if (gone.length) {
    const { results } = await db
      .prepare(
        `SELECT a.item_id, a.detail ->> '$.name' AS name FROM activity_log AS a NOT INDEXED
         WHERE (a.seq IN (SELECT rowid FROM activity_log_items WHERE activity_log_items MATCH ?3) OR a.seq > ${SEARCH_MARK_SQL})
           AND a.organization_id IN (SELECT value FROM json_each(?1)) AND a.item_id IN (SELECT value FROM json_each(?2)) AND a.scope = 'Project'
         ORDER BY a.created_at`,
      )
      .bind(JSON.stringify(orgIds), JSON.stringify(gone.map(String)), itemQuery(gone.map(String)))
      .all<{ item_id: string; name: string | null }>();
    for (const r of results) if (r.name) projectNames.set(Number(r.item_id), r.name);
  }
  const userIds = new Map<string, number>();
  for (const u of [...(known?.users ?? []), ...users.results]) {
    userIds.set(u.uuid, u.id);
    userIds.set(String(u.id), u.id);
  }
  return { orgNames: new Map(orgs.results.map((o) => [o.id, o.name])), projectNames, userIds };
}

export async function serializeFeed(db: D1Database, rows: ActivityRowRecord[], known?: KnownNames) {
  const names = await pageNames(db, rows, known);
  return rows.map((row) => {
    const detail = row.detail
      ? (JSON.parse(row.detail) as { name?: unknown; context?: { standard?: { id?: unknown; name?: unknown } } })
      : null;
    const objectName = typeof detail?.name === "string" ? detail.name : (row.item_id ?? "");
    const actor =
      row.user_id !== null && row.u_uuid !== null
        ? `${row.u_first_name ?? ""} ${row.u_last_name ?? ""}`.trim() || (row.u_email ?? "")
        : "System";
    const data: Record<string, unknown> = {
      business_unit: row.organization_id,
      business_unit_desc: names.orgNames.get(row.organization_id) ?? null,
    };
    if (row.team_id !== null) {
      const projectName = names.projectNames.get(row.team_id) ?? null;
      Object.assign(data, { application: row.team_id, application_desc: projectName, project: row.team_id, project_desc: projectName });
    }
    const key = snake(row.scope);
    if (row.item_id !== null && !(key in data)) {
      data[key] = row.item_id;
      data[`${key}_desc`] = typeof detail?.name === "string" ? detail.name : null;
    }
    const referenced = USER_SCOPES.includes(row.scope) && row.item_id ? names.userIds.get(row.item_id) : undefined;
    if (referenced !== undefined) data.user = referenced;
    const standard = detail?.context?.standard;
    if (typeof standard?.id === "string") Object.assign(data, { standard: standard.id, standard_desc: standard.name ?? null });
    return {
      id: row.seq,
      name: activityName(row.scope, row.activity),
      actor: row.user_id,
      text: [actor, row.activity, words(row.scope), objectName].filter(Boolean).join(" "),
      date: iso(row.created_at) as string,
      data,
      icon: icon(row.scope, row.activity),
      log_level: logLevel(row.activity),
      recorded_by:
        row.recorded_by_user_id === null && row.recorded_by_key_id === null
          ? null
          : { user: row.recorded_by_user_id, api_key_id: row.recorded_by_key_id },
      sequence: row.sequence,
      hash: row.hash,
    };
  });
}
