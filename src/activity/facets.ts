// `available_filters` reads facets: the distinct users, clients, (scope, activity) pairs and
// detail field paths (with their JSON types) seen per organization and project. They are
// computed incrementally from the rows past a high-water mark (`seq`), never by scanning the
// table at request time: the cron folds new rows in every minute (indexes.job.ts), and a request
// reads, in the same D1 batch as the facets, up to REQUEST_FACET_ROWS rows past the mark and
// computes their facets itself (one round trip), then folds them in off the response path.
// Values of rows later removed by retention stay listed.

const CURSOR_KEY = "activity_log_facets_seq";
/** Rows folded in by an `available_filters` request before it answers. */
export const REQUEST_FACET_ROWS = 2000;
const MAX_PATHS_PER_ROW = 200;
const MAX_DEPTH = 8;
const ARRAY_SAMPLE = 10;

type JsonType = "null" | "boolean" | "number" | "string" | "array" | "object";

function getOrInit<K, V>(map: Map<K, V>, key: K, init: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = init();
    map.set(key, value);
  }
  return value;
}

function jsonType(value: unknown): JsonType {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return "array";
  const t = typeof value;
  if (t === "boolean" || t === "number" || t === "string") return t;
  return "object";
}

/** Detail field paths and their types, as PostHog's field discovery names them (`changes[].field`). */
export function detailPaths(detail: unknown): Map<string, Set<JsonType>> {
  const paths = new Map<string, Set<JsonType>>();
  const add = (path: string, type: JsonType) => {
    if (paths.size >= MAX_PATHS_PER_ROW && !paths.has(path)) return;
    getOrInit(paths, path, () => new Set<JsonType>()).add(type);
  };
  const walk = (value: unknown, prefix: string, depth: number) => {
    if (depth > MAX_DEPTH) return;
    if (Array.isArray(value)) {
      const arrayPath = prefix ? `${prefix}[]` : "[]";
      for (const item of value.slice(0, ARRAY_SAMPLE)) {
        if (item === null || item === undefined) continue;
        add(arrayPath, jsonType(item));
        if (typeof item === "object") walk(item, arrayPath, depth + 1);
      }
    } else if (value && typeof value === "object") {
      for (const [key, child] of Object.entries(value)) {
        const path = prefix ? `${prefix}.${key}` : key;
        add(path, jsonType(child));
        walk(child, path, depth + 1);
      }
    }
  };
  walk(detail, "", 0);
  return paths;
}

interface FacetRow {
  seq: number;
  organization_id: string;
  team_id: number | null;
  user_id: number | null;
  client: string | null;
  scope: string;
  activity: string;
  detail: string | null;
}

type Facet = [organizationId: string, teamId: number, kind: string, scope: string, value: string, type: string];

export function facetsOf(rows: FacetRow[]): Facet[] {
  const facets = new Map<string, Facet>();
  const put = (facet: Facet) => facets.set(JSON.stringify(facet), facet);
  for (const row of rows) {
    const team = row.team_id ?? 0;
    if (row.user_id !== null) put([row.organization_id, team, "user", "", String(row.user_id), ""]);
    if (row.client) put([row.organization_id, team, "client", "", row.client, ""]);
    put([row.organization_id, team, "activity", row.scope, row.activity, ""]);
    if (!row.detail) continue;
    for (const [path, types] of detailPaths(JSON.parse(row.detail))) {
      for (const type of types) put([row.organization_id, team, "field", row.scope, path, type]);
    }
  }
  return [...facets.values()];
}

const INSERT_FACETS = `INSERT OR IGNORE INTO activity_log_facets (organization_id, team_id, kind, scope, value, type)
  SELECT value ->> '$[0]', value ->> '$[1]', value ->> '$[2]', value ->> '$[3]', value ->> '$[4]', value ->> '$[5]' FROM json_each(?1)`;
// Keeps D1's bound-value size limit far away.
const FACETS_PER_STATEMENT = 2000;

/** Folds up to `maxRows` rows past the high-water mark into the facets; returns how many it read. */
export async function refreshFacets(db: D1Database, maxRows: number): Promise<number> {
  const mark = await db
    .prepare("SELECT CAST(value AS INTEGER) AS seq FROM instance_settings WHERE key = ?1")
    .bind(CURSOR_KEY)
    .first<{ seq: number }>();
  const { results } = await db
    .prepare(
      "SELECT seq, organization_id, team_id, user_id, client, scope, activity, detail FROM activity_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )
    .bind(mark?.seq ?? 0, maxRows)
    .all<FacetRow>();
  const last = results[results.length - 1];
  if (!last) return 0;
  const facets = facetsOf(results);
  const statements: D1PreparedStatement[] = [];
  for (let i = 0; i < facets.length; i += FACETS_PER_STATEMENT) {
    statements.push(db.prepare(INSERT_FACETS).bind(JSON.stringify(facets.slice(i, i + FACETS_PER_STATEMENT))));
  }
  // Concurrent refreshes may fold the same rows: inserts are idempotent and the mark only moves forward.
  statements.push(
    db
      .prepare(
        `INSERT INTO instance_settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))`,
      )
      .bind(CURSOR_KEY, String(last.seq)),
  );
  await db.batch(statements);
  return results.length;
}

interface FacetRecord {
  kind: string;
  scope: string;
  value: string;
  type: string;
}

const GENERAL_FIELDS = [
  { name: "changes[].type", types: ["string"] },
  { name: "changes[].action", types: ["string"] },
  { name: "changes[].field", types: ["string"] },
  { name: "changes[].before", types: ["any"] },
  { name: "changes[].after", types: ["any"] },
];

/** Whose facets: an organization's (all its projects and its organization-level rows), or one project's. */
export type FacetTenant = { organizationId: string } | { projectId: number };

const MARK_SQL = `coalesce((SELECT CAST(value AS INTEGER) FROM instance_settings WHERE key = '${CURSOR_KEY}'), 0)`;

/**
 * PostHog's available_filters answer for a project or a whole organization, from one D1 batch: the
 * tenant's facets, the rows past the facets' mark (at most REQUEST_FACET_ROWS, this tenant's) and
 * the users both name. The tenant is bound by its id only, so the batch can run before the key
 * lookup has shown the project (a one-trip read). `pending`: rows past the mark it read (the caller
 * folds them in off the response path).
 */
export async function availableFilters(db: D1Database, tenant: FacetTenant, includeDetailFields: boolean) {
  const where = "organizationId" in tenant ? "organization_id = ?1" : "team_id = ?1";
  const bound = "organizationId" in tenant ? tenant.organizationId : tenant.projectId;
  const facetsSql = `SELECT ${"organizationId" in tenant ? "DISTINCT " : ""}kind, scope, value, type FROM activity_log_facets WHERE ${
    "organizationId" in tenant ? where : `organization_id = (SELECT organization_id FROM projects WHERE id = ?1) AND ${where}`
  }`;
  const pendingSql = `SELECT seq, organization_id, team_id, user_id, client, scope, activity, detail
    FROM (SELECT * FROM activity_log WHERE seq > ${MARK_SQL} ORDER BY seq LIMIT ${REQUEST_FACET_ROWS}) WHERE ${where}`;
  const [facetRows, pendingRows, userRows] = await db.batch([
    db.prepare(facetsSql).bind(bound),
    db.prepare(pendingSql).bind(bound),
    db
      .prepare(
        `SELECT id, uuid, first_name, last_name, email FROM users WHERE id IN (
          SELECT CAST(value AS INTEGER) FROM (${facetsSql}) WHERE kind = 'user' UNION SELECT user_id FROM (${pendingSql}))`,
      )
      .bind(bound),
  ]);
  const results = [
    ...((facetRows?.results ?? []) as unknown as FacetRecord[]),
    ...facetsOf((pendingRows?.results ?? []) as unknown as FacetRow[]).map(([, , kind, scope, value, type]) => ({
      kind,
      scope,
      value,
      type,
    })),
  ];
  const users = (userRows?.results ?? []) as unknown as {
    id: number;
    uuid: string;
    first_name: string;
    last_name: string;
    email: string;
  }[];
  const scopes = new Set<string>();
  const activities = new Set<string>();
  const clients = new Set<string>();
  const userIds = new Set<number>();
  const fields = new Map<string, Map<string, Set<string>>>();
  for (const f of results) {
    if (f.kind === "user") userIds.add(Number(f.value));
    else if (f.kind === "client") clients.add(f.value);
    else if (f.kind === "activity") {
      scopes.add(f.scope);
      activities.add(f.value);
    } else if (f.kind === "field") {
      const scopeFields = getOrInit(fields, f.scope, () => new Map<string, Set<string>>());
      getOrInit(scopeFields, f.value, () => new Set<string>()).add(f.type);
    }
  }
  const sorted = (values: Set<string>) => [...values].sort().map((value) => ({ value }));
  const staticFilters = {
    users: users
      .filter((u) => userIds.has(u.id))
      .map((u) => ({ value: u.uuid, label: `${u.first_name} ${u.last_name}`.trim() || u.email }))
      .sort((a, b) => a.label.localeCompare(b.label)),
    scopes: sorted(scopes),
    activities: sorted(activities),
    clients: sorted(clients),
  };
  const pending = pendingRows?.results.length ?? 0;
  if (!includeDetailFields) return { pending, body: { static_filters: staticFilters } };
  const detailFields: Record<string, { fields: { name: string; types: string[] }[] }> = {};
  for (const scope of [...fields.keys()].sort()) {
    const scopeFields = fields.get(scope)!;
    detailFields[scope] = {
      fields: [...scopeFields.keys()].sort().map((name) => ({ name, types: [...scopeFields.get(name)!].sort() })),
    };
  }
  detailFields.General = { fields: GENERAL_FIELDS };
  return { pending, body: { static_filters: staticFilters, detail_fields: detailFields } };
}

/** Every (scope, activity) pair the organization has logged (the SD Elements `name` filter resolves through it). */
export async function scopeActivityPairs(db: D1Database, organizationIds: string[]): Promise<{ scope: string; activity: string }[]> {
  await refreshFacets(db, REQUEST_FACET_ROWS);
  const { results } = await db
    .prepare(
      "SELECT DISTINCT scope, value AS activity FROM activity_log_facets WHERE organization_id IN (SELECT value FROM json_each(?1)) AND kind = 'activity'",
    )
    .bind(JSON.stringify(organizationIds))
    .all<{ scope: string; activity: string }>();
  return results;
}
