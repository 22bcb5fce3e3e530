// `available_filters` reads facets: the distinct users, clients, (scope, activity) pairs and
// detail field paths (with their JSON types) seen per organization and project. They are
// computed incrementally from the rows past a high-water mark (`seq`), never by scanning the
// table at request time: each request first folds in a bounded number of new rows, and the cron
// folds in the rest of a busy minute (indexes.job.ts). Values of rows later removed by retention stay listed.

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

/** PostHog's available_filters answer for a project (`teamId`) or a whole organization. */
export async function availableFilters(db: D1Database, organizationId: string, teamId: number | null, includeDetailFields: boolean) {
  await refreshFacets(db, REQUEST_FACET_ROWS);
  const query =
    teamId === null
      ? db.prepare("SELECT DISTINCT kind, scope, value, type FROM activity_log_facets WHERE organization_id = ?1").bind(organizationId)
      : db
          .prepare("SELECT kind, scope, value, type FROM activity_log_facets WHERE organization_id = ?1 AND team_id = ?2")
          .bind(organizationId, teamId);
  const { results } = await query.all<FacetRecord>();
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
  const { results: users } = await db
    .prepare("SELECT uuid, first_name, last_name, email FROM users WHERE id IN (SELECT value FROM json_each(?1))")
    .bind(JSON.stringify([...userIds]))
    .all<{ uuid: string; first_name: string; last_name: string; email: string }>();
  const sorted = (values: Set<string>) => [...values].sort().map((value) => ({ value }));
  const staticFilters = {
    users: users
      .map((u) => ({ value: u.uuid, label: `${u.first_name} ${u.last_name}`.trim() || u.email }))
      .sort((a, b) => a.label.localeCompare(b.label)),
    scopes: sorted(scopes),
    activities: sorted(activities),
    clients: sorted(clients),
  };
  if (!includeDetailFields) return { static_filters: staticFilters };
  const detailFields: Record<string, { fields: { name: string; types: string[] }[] }> = {};
  for (const scope of [...fields.keys()].sort()) {
    const scopeFields = fields.get(scope)!;
    detailFields[scope] = {
      fields: [...scopeFields.keys()].sort().map((name) => ({ name, types: [...scopeFields.get(name)!].sort() })),
    };
  }
  detailFields.General = { fields: GENERAL_FIELDS };
  return { static_filters: staticFilters, detail_fields: detailFields };
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
