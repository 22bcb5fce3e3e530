import { validationError } from "../lib/errors";
import { type DetailFilters, detailFilterConditions } from "./detail-filters";
import { itemQuery, SEARCH_MARK_SQL } from "./search-index";
import { balanced, SqlParams } from "./sql";

// The read side of the activity log in one place: the advanced filters, the list endpoints, the
// exports and the SD Elements feed all compile to the queries below.
//
// Plans (checked with EXPLAIN QUERY PLAN on a million rows, see the README):
// - time: walk `activity_log_{team,org}_time` (tenant, created_at, scope, activity, user_id, client,
//   is_system, was_impersonated) newest-first; every low-cardinality filter is tested on the index
//   entry, so only the rows of the page are read from the table.
// - item: `item_ids` are few rows; take them from the FTS5 item index (plus the rows not indexed
//   yet, search-index.ts) and sort the matches.
// - search: a rare `search_text` (at most SEARCH_CANDIDATE_LIMIT rows share its rarest trigram) is
//   answered from the FTS5 trigram index plus the rows not indexed yet (search-index.ts); a common
//   one walks the time index and tests the text. The statement counts the trigrams first (a
//   materialized `WITH`) and the side it does not take seeks NULL, as the ip plan's guard does.
// A query over several tenants (an organization's `team_ids`, the SD Elements feed over several
// organizations) takes the top rows of each tenant and merges them, never sorting a whole tenant.
// The tenants are one JSON parameter read by `json_each` (tenantsOf): a statement's size and its
// compound SELECT terms stay the same for 2 or 1,000 projects (D1: 100 parameters, 5 terms).

/** One tenant's rows; `from`/`to` bound `created_at` per tenant (the SD Elements feed reads naive dates in each organization's zone). */
export type Partition = (
  | {
      column: "team_id";
      value: number;
      /** Only if the project belongs to this organization (ids taken from a request). */
      organizationId?: string;
    }
  | {
      column: "organization_id";
      value: string;
      /** Only the organization-level rows (no project): a project's "Include organization-level activity". */
      organizationLevel?: boolean;
    }
) & {
  from?: number;
  to?: number;
};

/**
 * Tenants chosen inside the statement rather than listed by the caller: the SD Elements feed's
 * organizations and projects, found from the caller's key (a one-trip read, before the key is
 * known). `team` and `org` select the rows of `team_tenants(v, f, t)` and `org_tenants(v, f, t, l)`.
 */
export interface TenantQuery {
  sql: (params: SqlParams) => { with: string[]; team: string; org: string };
}
export type Tenancy = Partition[] | TenantQuery;
export const hasTenants = (tenancy: Tenancy) => !Array.isArray(tenancy) || tenancy.length > 0;

export interface ActivityFilters {
  startDate?: number;
  endDate?: number;
  /** User UUIDs (the advanced endpoints). */
  users?: string[];
  /** Integer user ids (the basic list's `user`, the SD Elements `actor`). */
  userIds?: number[];
  /** Who recorded the rows: user ids, UUIDs or emails, or API key ids, ORed. */
  recordedBy?: string[];
  scopes?: string[];
  activities?: string[];
  clients?: string[];
  itemIds?: string[];
  ipAddresses?: string[];
  searchText?: string;
  wasImpersonated?: boolean | null;
  isSystem?: boolean | null;
  detailFilters?: DetailFilters;
  /** Row sequence numbers (the SD Elements `id`). */
  seqs?: number[];
  /** Extra conditions on `a.*` built by a caller (the SD Elements reference filters). */
  extra?: (params: SqlParams) => string[];
}

export type Direction = "desc" | "asc";

export interface Position {
  createdAt: number;
  id: string;
}

export interface ActivityRowRecord {
  seq: number;
  id: string;
  organization_id: string;
  team_id: number | null;
  user_id: number | null;
  was_impersonated: number;
  is_system: number;
  client: string | null;
  ip_address: string | null;
  activity: string;
  item_id: string | null;
  scope: string;
  detail: string | null;
  created_at: number;
  u_uuid: string | null;
  u_distinct_id: string | null;
  u_first_name: string | null;
  u_last_name: string | null;
  u_email: string | null;
  u_is_email_verified: number | null;
  u_hedgehog_config: string | null;
  u_role_at_organization: string | null;
  recorded_by_user_id: number | null;
  recorded_by_key_id: string | null;
  r_uuid: string | null;
  r_distinct_id: string | null;
  r_first_name: string | null;
  r_last_name: string | null;
  r_email: string | null;
  r_is_email_verified: number | null;
  r_hedgehog_config: string | null;
  r_role_at_organization: string | null;
  /** Null until the sequencer seals the row (chain.ts). */
  sequence: number | null;
  hash: string | null;
  /** Which fields `hash` covers (src/lib/chain-hash.ts); null until sealed. */
  hash_version: number | null;
}

const userColumns = (alias: string) =>
  ["uuid", "distinct_id", "first_name", "last_name", "email", "is_email_verified", "hedgehog_config", "role_at_organization"]
    .map((column) => `${alias}.${column} AS ${alias}_${column}`)
    .join(", ");

/** The columns of an `ActivityRowRecord`, over `ACTIVITY_JOINS`. */
export const ACTIVITY_COLUMNS = `c.sequence, c.hash, c.hash_version, a.seq, a.id, a.organization_id, a.team_id, a.user_id, a.was_impersonated, a.is_system, a.client,
  a.ip_address, a.activity, a.item_id, a.scope, a.detail, a.created_at, a.recorded_by_user_id, a.recorded_by_key_id,
  ${userColumns("u")}, ${userColumns("r")}`;
/** `u` the user a row names, `r` the user who recorded it, `c` the row's place in the chain. */
export const ACTIVITY_JOINS =
  "LEFT JOIN users AS u ON u.id = a.user_id LEFT JOIN users AS r ON r.id = a.recorded_by_user_id LEFT JOIN activity_chain AS c ON c.seq = a.seq";

/** Above this many rows sharing the search's trigrams, walking the time index is cheaper than the candidates. */
const SEARCH_CANDIDATE_LIMIT = 2000;
const MIN_TRIGRAM_SEARCH = 3;
const MAX_TRIGRAMS = 24;

/** ASCII-only lowering, matching SQLite's lower() that the query uses on the stored text. */
const asciiLower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** The distinct trigrams of a search text (at most MAX_TRIGRAMS, spread over it), or null under 3 characters. */
export function trigramsOf(text: string): string[] | null {
  const chars = [...asciiLower(text)];
  if (chars.length < MIN_TRIGRAM_SEARCH) return null;
  const trigrams = new Set<string>();
  // Any subset of the trigrams finds a superset of the matches (the query re-checks the text).
  const step = Math.max(1, Math.ceil((chars.length - 2) / MAX_TRIGRAMS));
  for (let i = 0; i + 3 <= chars.length; i += step) trigrams.add(chars.slice(i, i + 3).join(""));
  return [...trigrams];
}

const phrase = (trigram: string) => `"${trigram.replaceAll('"', '""')}"`;
/** Trigrams ANDed in the final query: the rarest few are as selective as all of them, at a fraction of the cost. */
const SELECTED_TRIGRAMS = 3;

/** The index query `search_probe` chose, for a MATCH: `""` (no row) when it chose none, as FTS5 rejects NULL. */
const SEARCH_MATCH = `coalesce((SELECT m FROM search_probe), '""')`;
/** True when the search is rare enough for the trigram index. */
export const SEARCH_FEW = "(SELECT m FROM search_probe) IS NOT NULL";

/**
 * The `WITH` tables of a search, or null when the text is too short for the trigram index.
 * `search_probe(m)` holds the index query for the text, or no row when it is too common (more
 * than SEARCH_CANDIDATE_LIMIT rows share each trigram). Counting each trigram's rows (stopping at
 * the limit) costs far less than ANDing common trigrams: a name like "pricing-featureflag-1234"
 * shares "fea", "ure"... with a quarter of the log. Both tables are materialized so the counts run
 * once per statement, inside it (no round trip of their own).
 */
export function searchProbe(text: string, params: SqlParams): string | null {
  const trigrams = trigramsOf(text);
  if (!trigrams) return null;
  const counts = `SELECT key, value, (SELECT count(*) FROM (SELECT rowid FROM activity_log_search WHERE activity_log_search MATCH value LIMIT ${SEARCH_CANDIDATE_LIMIT + 1}))
    FROM json_each(${params.add(JSON.stringify(trigrams.map(phrase)))})`;
  const rarest = `SELECT group_concat(p, ' AND ') FROM (SELECT p FROM search_counts ORDER BY n, i LIMIT ${SELECTED_TRIGRAMS})`;
  return `search_counts(i, p, n) AS MATERIALIZED (${counts}),
    search_probe(m) AS MATERIALIZED (SELECT (${rarest}) WHERE (SELECT min(n) FROM search_counts) <= ${SEARCH_CANDIDATE_LIMIT})`;
}

/** Rows of the search's candidates (index matches and rows not indexed yet); none when the probe chose no index query. */
export const searchCandidates = (seq: string) =>
  `(${seq} IN (SELECT rowid FROM activity_log_search WHERE activity_log_search MATCH ${SEARCH_MATCH}) OR ${seq} > (SELECT ${SEARCH_MARK_SQL} WHERE ${SEARCH_FEW}))`;

function filterConditions(f: ActivityFilters, params: SqlParams): string[] {
  const c: string[] = [];
  if (f.startDate !== undefined) c.push(`a.created_at >= ${params.add(f.startDate)}`);
  if (f.endDate !== undefined) c.push(`a.created_at <= ${params.add(f.endDate)}`);
  if (f.users?.length) c.push(`a.user_id IN (SELECT id FROM users WHERE ${params.in("uuid", f.users)})`);
  if (f.userIds?.length) c.push(params.in("a.user_id", f.userIds));
  if (f.recordedBy?.length) c.push(recordedByCondition(f.recordedBy, params));
  if (f.scopes?.length) c.push(params.in("a.scope", f.scopes));
  if (f.activities?.length) c.push(params.in("a.activity", f.activities));
  if (f.clients?.length) c.push(params.in("a.client", f.clients));
  if (f.itemIds?.length) c.push(params.in("a.item_id", f.itemIds));
  if (f.seqs?.length) c.push(params.in("a.seq", f.seqs));
  if (f.ipAddresses?.length) c.push(ipCondition(f.ipAddresses, params));
  if (f.wasImpersonated !== undefined && f.wasImpersonated !== null) c.push(`a.was_impersonated = ${f.wasImpersonated ? 1 : 0}`);
  if (f.isSystem !== undefined && f.isSystem !== null) c.push(`a.is_system = ${f.isSystem ? 1 : 0}`);
  if (f.searchText) c.push(`instr(lower(a.detail), ${params.add(asciiLower(f.searchText))}) > 0`);
  if (f.detailFilters) {
    const detail = detailFilterConditions(f.detailFilters);
    if (detail.length) c.push(`(${balanced(detail, "AND")})`);
  }
  if (f.extra) c.push(...f.extra(params));
  return c;
}

/** Any value may be a user's id, UUID or email, or a key id: one parameter whatever the list's length. */
function recordedByCondition(values: string[], params: SqlParams): string {
  const list = `(SELECT value FROM json_each(${params.add(JSON.stringify(values.map((v) => (v.includes("@") ? v.toLowerCase() : v))))}))`;
  return `(a.recorded_by_key_id IN ${list} OR a.recorded_by_user_id IN (SELECT id FROM users WHERE CAST(id AS TEXT) IN ${list} OR uuid IN ${list} OR email IN ${list}))`;
}

/** Exact addresses or `*` wildcards, ORed (PostHog's ip_addresses); the patterns are one parameter, however many. */
function ipCondition(values: string[], params: SqlParams): string {
  const exact = values.filter((v) => !v.includes("*"));
  const patterns = values.filter((v) => v.includes("*")).map((v) => v.replace(/[\\%_]/g, (m) => `\\${m}`).replaceAll("*", "%"));
  const alternatives: string[] = [];
  if (exact.length) alternatives.push(params.in("a.ip_address", exact));
  if (patterns.length)
    alternatives.push(
      `EXISTS (SELECT 1 FROM json_each(${params.add(JSON.stringify(patterns))}) WHERE a.ip_address LIKE value ESCAPE '\\')`,
    );
  return `(${alternatives.join(" OR ")})`;
}

/** An `ip_addresses` value as a range of `activity_log_org_ip`: exact (`hi` null) or a `prefix*`. */
interface IpRange {
  lo: string;
  hi: string | null;
}

/**
 * The values as index ranges, or null if one is not a plain prefix: a `*` before the end, or a
 * prefix with letters (LIKE ignores their case, the index does not).
 */
export function ipRanges(values: readonly string[]): IpRange[] | null {
  const ranges: IpRange[] = [];
  for (const value of values) {
    const star = value.indexOf("*");
    if (star === -1) ranges.push({ lo: value, hi: null });
    else if (star === value.length - 1 && star > 0 && !/[A-Za-z]/.test(value))
      ranges.push({ lo: value.slice(0, -1), hi: `${value.slice(0, -1)}\u{10FFFF}` });
    else return null;
  }
  return ranges;
}

/**
 * The tenants of one statement. `condition` is true for a row of one of them; `organizations` is
 * a condition on `organization_id` the index can seek on, seeking nothing when `guard` is false;
 * `each` is one SELECT per tenant kind over each tenant's index (`inner` builds the tenant's
 * statement, `as` names its output: row ids or a count `n`), skipped when `guard` is false.
 */
interface Tenants {
  with: string[];
  condition: string;
  organizations(guard?: string): string;
  each(conditions: string[], inner: (from: string, where: string[]) => string, as: "seq" | "n", guard?: string): string[];
}

const indexFor = (column: Partition["column"]) => `INDEXED BY activity_log_${column === "team_id" ? "team" : "org"}_time`;

/** With a `guard`, the tenant is NULL when it is false, so the seek finds nothing. */
function partitionCondition(p: Partition, params: SqlParams, guard?: string): string {
  // A project of another organization gives NULL: the index seek finds nothing (a separate test would walk its rows).
  let value =
    p.column === "team_id" && p.organizationId !== undefined
      ? `(SELECT id FROM projects WHERE id = ${params.add(p.value)} AND organization_id = ${params.add(p.organizationId)})`
      : params.add(p.value);
  if (guard) value = `(SELECT ${value} WHERE ${guard})`;
  const conditions = [`a.${p.column} = ${value}`];
  if (p.column === "organization_id" && p.organizationLevel) conditions.push("a.team_id IS NULL");
  if (p.from !== undefined) conditions.push(`a.created_at >= ${params.add(p.from)}`);
  if (p.to !== undefined) conditions.push(`a.created_at <= ${params.add(p.to)}`);
  return conditions.join(" AND ");
}

/** One tenant: its values inline. */
function oneTenant(p: Partition, params: SqlParams): Tenants {
  return {
    with: [],
    condition: `(${partitionCondition(p, params)})`,
    organizations: (guard) => {
      const where = guard ? ` WHERE ${guard}` : "";
      if (p.column === "organization_id")
        return `organization_id = ${guard ? `(SELECT ${params.add(p.value)}${where})` : params.add(p.value)}`;
      return `organization_id = (SELECT organization_id FROM projects WHERE id = ${params.add(p.value)}${guard ? ` AND ${guard}` : ""})`;
    },
    each: (conditions, inner, as, guard) => {
      const statement = inner(`activity_log AS a ${indexFor(p.column)}`, [partitionCondition(p, params, guard), ...conditions]);
      return [as === "seq" ? `SELECT seq FROM (${statement})` : statement];
    },
  };
}

const TABLES = { team_id: "team_tenants", organization_id: "org_tenants" } as const;

/**
 * Several tenants: `team_tenants(v, f, t)` and `org_tenants(v, f, t, l)` (tenant, time bounds, and
 * for an organization whether only its organization-level rows count) read from one JSON parameter
 * each. A requested project of another organization is left out.
 */
function manyTenants(tenancy: Tenancy, params: SqlParams): Tenants {
  const partitions = Array.isArray(tenancy) ? tenancy : [];
  const query = Array.isArray(tenancy) ? null : tenancy.sql(params);
  const kinds = (["team_id", "organization_id"] as const).filter((column) => query || partitions.some((p) => p.column === column));
  const fromQuery = query
    ? [
        ...query.with,
        `${TABLES.team_id}(v, f, t) AS MATERIALIZED (${query.team})`,
        `${TABLES.organization_id}(v, f, t, l) AS MATERIALIZED (${query.org})`,
      ]
    : null;
  const withTables =
    fromQuery ??
    kinds.map((column) => {
      const rows = partitions
        .filter((p) => p.column === column)
        .map((p) => [
          p.value,
          p.from ?? null,
          p.to ?? null,
          p.column === "team_id" ? (p.organizationId ?? null) : p.organizationLevel ? 1 : 0,
        ]);
      // A primary-key lookup per tenant: an IN list of the organization's projects would be rebuilt per row.
      const owned =
        column === "team_id"
          ? ` WHERE j.value ->> 3 IS NULL OR EXISTS (SELECT 1 FROM projects AS p WHERE p.id = j.value ->> 0 AND p.organization_id = j.value ->> 3)`
          : "";
      const level = column === "organization_id" ? ", l" : "";
      const levelValue = column === "organization_id" ? ", j.value ->> 3" : "";
      return `${TABLES[column]}(v, f, t${level}) AS MATERIALIZED (SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2${levelValue} FROM json_each(${params.add(JSON.stringify(rows))}) AS j${owned})`;
    });
  const bounded = {
    from: partitions.some((p) => p.from !== undefined),
    to: partitions.some((p) => p.to !== undefined),
  };
  // Only bounds some tenant has, so the index ranges stay plain when none has one.
  const range = (alias: string) => [
    ...(bounded.from ? [`a.created_at >= ifnull(${alias}.f, -1e18)`] : []),
    ...(bounded.to ? [`a.created_at <= ifnull(${alias}.t, 1e18)`] : []),
  ];
  // Only when some organization counts only its organization-level rows.
  const organizationLevel = partitions.some((p) => p.column === "organization_id" && p.organizationLevel);
  const scoped = (column: Partition["column"], alias: string) => [
    ...range(alias),
    ...(column === "organization_id" && organizationLevel ? [`(${alias}.l = 0 OR a.team_id IS NULL)`] : []),
  ];
  // Without bounds, IN lets SQLite index the tenants once instead of scanning them per row.
  const owns = (column: Partition["column"]) =>
    scoped(column, "t").length
      ? `EXISTS (SELECT 1 FROM ${TABLES[column]} AS t WHERE ${[`t.v = a.${column}`, ...scoped(column, "t")].join(" AND ")})`
      : `a.${column} IN (SELECT v FROM ${TABLES[column]})`;
  return {
    with: withTables,
    condition: `(${kinds.map(owns).join(" OR ")})`,
    organizations: (guard) => {
      const sources = kinds.map((column) =>
        column === "organization_id"
          ? "SELECT v FROM org_tenants"
          : "SELECT organization_id FROM projects WHERE id IN (SELECT v FROM team_tenants)",
      );
      return `organization_id IN (SELECT * FROM (${sources.join(" UNION ")})${guard ? ` WHERE ${guard}` : ""})`;
    },
    // CROSS JOIN keeps the tenants outside: each one's index walk runs once, correlated, under its LIMIT.
    each: (conditions, inner, as, guard) =>
      kinds.map((column) => {
        const statement = inner(`activity_log AS a ${indexFor(column)}`, [`a.${column} = t.v`, ...scoped(column, "t"), ...conditions]);
        const where = guard ? ` WHERE ${guard}` : "";
        return as === "seq"
          ? `SELECT s.seq AS seq FROM ${TABLES[column]} AS t CROSS JOIN activity_log AS s ON s.seq IN (${statement})${where}`
          : `SELECT (${statement}) AS n FROM ${TABLES[column]} AS t${where}`;
      }),
  };
}

const tenantsOf = (tenancy: Tenancy, params: SqlParams): Tenants =>
  Array.isArray(tenancy) && tenancy.length === 1 && tenancy[0] ? oneTenant(tenancy[0], params) : manyTenants(tenancy, params);

/** The row ids with one of the addresses, from the ip index (one range seek per value, the values one parameter). */
function ipCandidates(ranges: IpRange[], tenants: Tenants, params: SqlParams, limit?: number, guard?: string): string {
  const bounds = JSON.stringify(ranges.map((r) => [r.lo, r.hi ?? r.lo]));
  const seqs = `SELECT a.seq FROM json_each(${params.add(bounds)}) AS r CROSS JOIN activity_log AS a INDEXED BY activity_log_org_ip
    ON ${tenants.organizations(guard)} AND a.ip_address BETWEEN r.value ->> 0 AND r.value ->> 1`;
  return limit === undefined ? seqs : `${seqs} LIMIT ${limit}`;
}

// "rows": few candidate rows known up front (item candidates, SD Elements ids), looked up by rowid;
// `index` is the FTS5 table `match` runs on. "ip" and "search": the rows of the addresses from
// the ip index (ipGuard), or of the text from the trigram index (searchProbe), if they are few,
// else the time walk, chosen inside the one statement.
type Plan =
  | { kind: "time" }
  | { kind: "rows"; index: "activity_log_items" | null; match: string | null }
  | { kind: "ip"; ips: IpRange[] }
  | { kind: "search"; text: string };

/** Above this many rows with the addresses, walking the time index (and testing each row's address) is cheaper. */
const IP_CANDIDATE_LIMIT = 2000;

/** True when the addresses have few rows: counting index entries, stopping past the limit, costs a fraction of a millisecond. */
const ipGuard = (ips: IpRange[], tenants: Tenants, params: SqlParams) =>
  `(SELECT count(*) FROM (${ipCandidates(ips, tenants, params, IP_CANDIDATE_LIMIT + 1)})) <= ${IP_CANDIDATE_LIMIT}`;

/** How the rows will be found; every choice that depends on the data is made inside the statements. */
export function planQuery(f: ActivityFilters, partitions: Tenancy): Plan {
  if (f.seqs?.length) return { kind: "rows", index: null, match: null };
  const items = f.itemIds?.length ? itemQuery(f.itemIds) : null;
  if (items) return { kind: "rows", index: "activity_log_items", match: items };
  if (f.searchText && trigramsOf(f.searchText) && hasTenants(partitions)) return { kind: "search", text: f.searchText };
  const ips = f.ipAddresses?.length && hasTenants(partitions) ? ipRanges(f.ipAddresses) : null;
  return ips ? { kind: "ip", ips } : { kind: "time" };
}

/** NOT INDEXED still looks rows up by rowid: the candidates drive the query, any tenant matches. */
function rowsPlanConditions(plan: Extract<Plan, { kind: "rows" }>, tenants: Tenants, conditions: string[], params: SqlParams) {
  const match =
    plan.index && plan.match
      ? [`(a.seq IN (SELECT rowid FROM ${plan.index} WHERE ${plan.index} MATCH ${params.add(plan.match)}) OR a.seq > ${SEARCH_MARK_SQL})`]
      : [];
  return [...match, tenants.condition, ...conditions];
}

/**
 * The two sources of row ids of an ip or search plan (one of them empty): the few candidate rows,
 * or each tenant's time walk; `with` adds the search's probe tables.
 */
function guardedBranches(
  plan: Extract<Plan, { kind: "ip" | "search" }>,
  tenants: Tenants,
  conditions: string[],
  params: SqlParams,
  inner: (from: string, where: string[]) => string,
  as: "seq" | "n",
) {
  let few = SEARCH_FEW;
  let candidates = searchCandidates("a.seq");
  const withTables = [...tenants.with];
  if (plan.kind === "ip") {
    few = ipGuard(plan.ips, tenants, params);
    candidates = `a.seq IN (${ipCandidates(plan.ips, tenants, params, undefined, few)})`;
  } else {
    const probe = searchProbe(plan.text, params);
    if (probe) withTables.push(probe);
  }
  const fromCandidates = inner("activity_log AS a NOT INDEXED", [candidates, tenants.condition, ...conditions]);
  const branches = [
    as === "seq" ? `SELECT seq FROM (${fromCandidates})` : fromCandidates,
    ...tenants.each(conditions, inner, as, `NOT ${few}`),
  ];
  return { with: withClause(withTables), branches };
}

const withClause = (tables: string[]) => (tables.length ? `WITH ${tables.join(", ")} ` : "");

function keysetCondition(position: Position, direction: Direction, params: SqlParams): string {
  const c = params.add(position.createdAt);
  const i = params.add(position.id);
  return direction === "desc"
    ? `a.created_at <= ${c} AND (a.created_at < ${c} OR a.id < ${i})`
    : `a.created_at >= ${c} AND (a.created_at > ${c} OR a.id > ${i})`;
}

const orderBy = (direction: Direction) => (direction === "desc" ? "a.created_at DESC, a.id DESC" : "a.created_at ASC, a.id ASC");

export interface PageRequest {
  direction: Direction;
  limit: number;
  offset?: number;
  after?: Position;
}

function buildSelect(plan: Plan, partitions: Tenancy, filters: ActivityFilters, page: PageRequest) {
  const params = new SqlParams();
  const tenants = tenantsOf(partitions, params);
  const conditions = filterConditions(filters, params);
  if (page.after) conditions.push(keysetCondition(page.after, page.direction, params));
  const order = orderBy(page.direction);
  const limit = params.add(page.limit);
  const offset = page.offset ? ` OFFSET ${params.add(page.offset)}` : "";
  const join = ACTIVITY_JOINS;

  if (plan.kind === "rows") {
    const where = rowsPlanConditions(plan, tenants, conditions, params).join(" AND ");
    return {
      params,
      sql: `${withClause(tenants.with)}SELECT ${ACTIVITY_COLUMNS} FROM activity_log AS a NOT INDEXED ${join} WHERE ${where} ORDER BY ${order} LIMIT ${limit}${offset}`,
    };
  }
  const only = Array.isArray(partitions) && partitions.length === 1 ? partitions[0] : undefined;
  if (plan.kind === "time" && only) {
    const where = [partitionCondition(only, params), ...conditions].join(" AND ");
    return {
      params,
      sql: `SELECT ${ACTIVITY_COLUMNS} FROM activity_log AS a ${indexFor(only.column)} ${join} WHERE ${where} ORDER BY ${order} LIMIT ${limit}${offset}`,
    };
  }
  // Top rows of each tenant, merged: each walk stops after `offset + limit` rows of its index.
  const perTenant = params.add(page.limit + (page.offset ?? 0));
  const inner = (from: string, where: string[]) =>
    `SELECT a.seq FROM ${from} WHERE ${where.join(" AND ")} ORDER BY ${order} LIMIT ${perTenant}`;
  const { with: withTables, branches } =
    plan.kind === "time"
      ? { with: withClause(tenants.with), branches: tenants.each(conditions, inner, "seq") }
      : guardedBranches(plan, tenants, conditions, params, inner, "seq");
  return {
    params,
    sql: `${withTables}SELECT ${ACTIVITY_COLUMNS} FROM activity_log AS a ${join} WHERE a.seq IN (${branches.join(" UNION ALL ")}) ORDER BY ${order} LIMIT ${limit}${offset}`,
  };
}

// D1 refuses statements over 100 KB; huge `in` lists or a hundred detail filters get a 400 first.
const MAX_SQL_LENGTH = 90_000;

function prepare(db: D1Database, sql: string, params: SqlParams): D1PreparedStatement {
  if (sql.length > MAX_SQL_LENGTH) throw validationError("These filters are too large; narrow them down.");
  return db.prepare(sql).bind(...params.values);
}

/** The statement of one page of rows, in the requested order (run it alone or in a batch). */
export function pageStatement(
  db: D1Database,
  plan: Plan,
  partitions: Tenancy,
  filters: ActivityFilters,
  page: PageRequest,
): D1PreparedStatement {
  const { sql, params } = buildSelect(plan, partitions, filters, page);
  return prepare(db, sql, params);
}

/** The statement counting the matching rows (page-number pagination's `count`), as `{n}`. */
export function countStatement(db: D1Database, plan: Plan, partitions: Tenancy, filters: ActivityFilters): D1PreparedStatement {
  const params = new SqlParams();
  const tenants = tenantsOf(partitions, params);
  const conditions = filterConditions(filters, params);
  const inner = (from: string, where: string[]) => `SELECT count(*) AS n FROM ${from} WHERE ${where.join(" AND ")}`;
  let sql: string;
  if (plan.kind === "rows") {
    sql = `${withClause(tenants.with)}SELECT count(*) AS n FROM activity_log AS a NOT INDEXED WHERE ${rowsPlanConditions(plan, tenants, conditions, params).join(" AND ")}`;
  } else {
    const guarded =
      plan.kind === "time"
        ? { with: withClause(tenants.with), branches: tenants.each(conditions, inner, "n") }
        : guardedBranches(plan, tenants, conditions, params, inner, "n");
    sql = `${guarded.with}SELECT ifnull(sum(n), 0) AS n FROM (${guarded.branches.join(" UNION ALL ")})`;
  }
  return prepare(db, sql, params);
}

/** One page of rows, in the requested order. */
export async function selectActivity(
  db: D1Database,
  partitions: Partition[],
  filters: ActivityFilters,
  page: PageRequest,
): Promise<ActivityRowRecord[]> {
  if (!partitions.length) return [];
  const plan = planQuery(filters, partitions);
  const { results } = await pageStatement(db, plan, partitions, filters, page).all<ActivityRowRecord>();
  return results;
}

/** The number of rows matching the filters. */
export async function countActivity(db: D1Database, partitions: Partition[], filters: ActivityFilters): Promise<number> {
  if (!partitions.length) return 0;
  const plan = planQuery(filters, partitions);
  const row = await countStatement(db, plan, partitions, filters).first<{ n: number }>();
  return row?.n ?? 0;
}

/** Every matching row, page by page (keyset), for exports: memory stays at one page. */
export async function* iterateActivity(
  db: D1Database,
  partitions: Partition[],
  filters: ActivityFilters,
  direction: Direction,
  pageSize: number,
): AsyncGenerator<ActivityRowRecord[]> {
  let after: Position | undefined;
  while (true) {
    const rows = await selectActivity(db, partitions, filters, { direction, limit: pageSize, after });
    if (rows.length) yield rows;
    if (rows.length < pageSize) return;
    const last = rows[rows.length - 1]!;
    after = { createdAt: last.created_at, id: last.id };
  }
}

// Cursors are opaque to clients: the (created_at, id) of the row they continue from, and whether
// they page backwards (a `previous` link).
export interface Cursor {
  position: Position;
  reverse: boolean;
}

export function encodeCursor(cursor: Cursor): string {
  const json = JSON.stringify({ c: cursor.position.createdAt, i: cursor.position.id, r: cursor.reverse ? 1 : 0 });
  return btoa(json).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function decodeCursor(value: string): Cursor {
  try {
    const decoded = JSON.parse(atob(value.replaceAll("-", "+").replaceAll("_", "/")));
    if (typeof decoded.c === "number" && typeof decoded.i === "string") {
      return { position: { createdAt: decoded.c, id: decoded.i }, reverse: decoded.r === 1 };
    }
  } catch {
    // reported below
  }
  throw validationError("Invalid cursor.", "cursor");
}

export const positionOf = (row: Pick<ActivityRowRecord, "created_at" | "id">): Position => ({ createdAt: row.created_at, id: row.id });
