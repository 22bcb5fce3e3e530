import { type SQL, sql } from "drizzle-orm";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { D1Like } from "../lib/d1-trips";
import { ApiError } from "../lib/errors";
import { normalizePath } from "../lib/paths";
import { assertRouteLevel, CURRENT_PROJECT, ORGANIZATION_ROUTES } from "./access";
import { applyKeyLookup, keyLookup, keyParameters, resolveAuth } from "./authenticate";
import type { AppBindings, Credentials } from "./context";
import { MembershipLevel, type RouteLevel } from "./levels";
import { assertScope, scopesSatisfying } from "./scopes";

// One round trip per read: the key lookup travels in the route's first D1 batch, and every SELECT
// of that batch is guarded inside SQL by what `secured(scope, level)` demands, so that for a
// stranger, a key without the scope or a caller below the level D1 does none of the page's work.
// The lookup's row then goes through the very checks `requireScope` and `requireLevel` run
// (`applyKeyLookup`, `assertScope`, `assertRouteLevel`): same statuses, same bodies, before any
// result reaches the handler.

/** What a route demands of its caller: the guard's inputs. */
export interface Demand {
  scope: string;
  level: RouteLevel;
  /** `/api/organizations...`: no key restricted to projects. */
  organizationRoute: boolean;
}

const sqlString = (value: string) => `'${value.replaceAll("'", "''")}'`;
const EMPTY = (list: string) => `coalesce(json_array_length(${list}), 0) = 0`;

/**
 * The guard as one SQL condition over the key parameters (`keyParameters`: ?1 key hash, ?2 now,
 * ?3 the path's project or organization): everything `requireScope` and `requireLevel` check.
 * - the key exists and has not expired;
 * - it holds the scope (`*`, the scope, or `x:write` for `x:read`);
 * - on organization routes, it is not restricted to projects;
 * - for `member` / `admin` / `owner` routes: the user is a member of the path's organization (the
 *   project's, for project paths) at that level or above; the organization lets members use keys
 *   or the member is an admin; the key's `scoped_organizations` and `scoped_teams` include it.
 */
export function guardCondition(credentials: Credentials, demand: Demand): string {
  const { target } = credentials;
  const scopes = scopesSatisfying(demand.scope).map(sqlString).join(", ");
  const where = [
    "gk.secure_value = ?1",
    "(gk.expires_at IS NULL OR gk.expires_at > ?2)",
    `EXISTS (SELECT 1 FROM json_each(gk.scopes) WHERE value IN (${scopes}))`,
  ];
  let from = "personal_api_keys AS gk";
  if (demand.organizationRoute) where.push(EMPTY("gk.scoped_teams"));
  if (demand.level !== "user") {
    if (!target || target.id === CURRENT_PROJECT) throw new Error("a one-trip guard needs the path's project or organization");
    from +=
      target.kind === "project"
        ? " JOIN projects AS gp ON gp.id = ?3 JOIN organizations AS go ON go.id = gp.organization_id"
        : " JOIN organizations AS go ON go.id = ?3";
    from += " JOIN organization_memberships AS gm ON gm.organization_id = go.id AND gm.user_id = gk.user_id";
    where.push(
      `gm.level >= ${MembershipLevel[demand.level]}`,
      `(go.members_can_use_personal_api_keys OR gm.level >= ${MembershipLevel.admin})`,
      `(${EMPTY("gk.scoped_organizations")} OR go.id IN (SELECT value FROM json_each(gk.scoped_organizations)))`,
    );
    if (target.kind === "project") {
      where.push(`(${EMPTY("gk.scoped_teams")} OR gp.id IN (SELECT value FROM json_each(gk.scoped_teams)))`);
    } else {
      where.push(EMPTY("gk.scoped_teams"));
    }
  }
  return `EXISTS (SELECT 1 FROM ${from} WHERE ${where.join(" AND ")})`;
}

/** `?N` parameters of `sql` renumbered to `?N+shift`, outside string literals and quoted names. */
function shiftParameters(sql: string, shift: number): string {
  return sql.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`|\?(\d+)/g, (token, index: string | undefined) =>
    index === undefined ? token : `?${Number(index) + shift}`,
  );
}

/**
 * A query behind the guard, CROSS JOIN keeping the guard the outer loop: when it fails, SQLite
 * never starts the query (a check in an outer WHERE instead runs after an aggregate or a sorted
 * subquery has done its work). The query's rows keep their order and its columns their names
 * (a duplicate name gets SQLite's `:1` suffix, so positions stay distinct). The guard's parameters
 * come first; the query's numbered ones move up to follow them, its anonymous ones follow by themselves.
 */
export function guardedSelect(
  sql: string,
  params: unknown[],
  credentials: Credentials,
  demand: Demand,
  now: number,
): { sql: string; params: unknown[] } {
  const prefix = keyParameters(credentials, now);
  const query = shiftParameters(sql.replace(/[\s;]+$/, ""), prefix.length);
  return {
    sql: `SELECT q.* FROM (SELECT 1 WHERE ${guardCondition(credentials, demand)}) AS guard CROSS JOIN (${query}) AS q`,
    params: [...prefix, ...params],
  };
}

const isSelect = (sql: string) => /^\s*(select|with)\b/i.test(sql);

/** A statement prepared before the key is known: sent with the key lookup (guarded) or, after it, as is. */
class DeferredStatement {
  constructor(
    readonly owner: OneTripD1,
    readonly sql: string,
    readonly params: unknown[] = [],
  ) {}
  bind(...params: unknown[]) {
    return new DeferredStatement(this.owner, this.sql, params);
  }
  async all() {
    return this.owner.single(this);
  }
  async run() {
    return this.owner.single(this);
  }
  async first(column?: string) {
    const row = (await this.owner.single(this)).results[0] as Record<string, unknown> | undefined;
    if (!row) return null;
    return column === undefined ? row : row[column];
  }
  async raw(options?: { columnNames?: boolean }) {
    const rows = (await this.owner.single(this)).results as Record<string, unknown>[];
    const values = rows.map((row) => Object.values(row));
    return options?.columnNames ? [Object.keys(rows[0] ?? {}), ...values] : values;
  }
}

/**
 * The request's D1 on a one-trip route: its first call carries the key lookup in the same batch,
 * every SELECT guarded by `guardedSelect`; the lookup's answer is checked (401, scope 403, level
 * 404/403) before any result reaches the route. A first call that writes looks the key up on its
 * own first. Later calls go straight to D1.
 */
class OneTripD1 {
  private pending = true;
  constructor(
    private readonly c: Context<AppBindings>,
    private readonly inner: D1Like,
    private readonly demand: Demand,
  ) {}

  prepare(sql: string) {
    return this.pending ? new DeferredStatement(this, sql) : this.inner.prepare(sql);
  }

  private real(statement: D1PreparedStatement | DeferredStatement): D1PreparedStatement {
    if (!(statement instanceof DeferredStatement)) return statement;
    const prepared = this.inner.prepare(statement.sql);
    return statement.params.length ? prepared.bind(...statement.params) : prepared;
  }

  /** The checks of `requireScope` and `requireLevel`, on the key lookup's row. */
  private async check(row: Record<string, unknown> | null | undefined) {
    this.pending = false;
    await applyKeyLookup(this.c, row);
    assertScope(this.c.var.auth.key.scopes, this.demand.scope);
    await assertRouteLevel(this.c, this.demand.level);
  }

  /** The key lookup as a round trip of its own, then the same checks. */
  async resolveAlone() {
    this.pending = false;
    await resolveAuth(this.c, this.inner);
    assertScope(this.c.var.auth.key.scopes, this.demand.scope);
    await assertRouteLevel(this.c, this.demand.level);
  }

  get resolved() {
    return !this.pending;
  }

  async batch(statements: (D1PreparedStatement | DeferredStatement)[]): Promise<D1Result[]> {
    if (this.pending && statements.every((s) => s instanceof DeferredStatement && isSelect(s.sql))) {
      const { credentials } = this.c.var;
      const now = Date.now();
      const guarded = (statements as DeferredStatement[]).map((s) => {
        const { sql, params } = guardedSelect(s.sql, s.params, credentials, this.demand, now);
        return this.inner.prepare(sql).bind(...params);
      });
      const lookup = keyLookup(this.inner, credentials, now, `, ${guardCondition(credentials, this.demand)} AS guard_passed`);
      const [found, ...results] = await this.inner.batch([lookup, ...guarded]);
      const row = found?.results[0] as Record<string, unknown> | undefined;
      await this.check(row);
      // The checks passed: the guard must have let the statements run, or the route would answer
      // an empty page as if it were the data. A disagreement is a bug, never a silent empty answer.
      if (!row?.guard_passed) throw new ApiError(500, "server_error", "error", "The one-trip guard disagrees with the access checks.");
      return results;
    }
    if (this.pending) await this.resolveAlone();
    return this.inner.batch(statements.map((s) => this.real(s)));
  }

  async single(statement: DeferredStatement): Promise<D1Result> {
    const [result] = await this.batch([statement]);
    return result as D1Result;
  }
}

/**
 * `secured(scope, level, { oneTrip: true })`: the key is looked up in the route's first D1 batch
 * (see `OneTripD1`). A route that answers without D1, or fails before reaching it (a 400 from
 * validation, say), still gets the key checked afterwards, and an authentication or access error
 * then replaces its answer: a stranger never sees a 400. Paths the guard cannot express (no
 * project or organization on a `member` route, `@current`) look the key up first, as usual.
 */
export const oneTripAuth = (scope: string, level: RouteLevel) =>
  createMiddleware<AppBindings>(async (c, next) => {
    const { target } = c.var.credentials;
    if (c.var.auth || (level !== "user" && (!target || target.id === CURRENT_PROJECT))) {
      if (!c.var.auth) await resolveAuth(c);
      assertScope(c.var.auth.key.scopes, scope);
      await assertRouteLevel(c, level);
      return next();
    }
    const organizationRoute = ORGANIZATION_ROUTES.test(normalizePath(new URL(c.req.url).pathname));
    const db = new OneTripD1(c, c.env.DB, { scope, level, organizationRoute });
    c.env = { ...c.env, DB: db as unknown as D1Database };
    c.set("oneTrip", db);
    await next();
    if (!db.resolved) await db.resolveAlone();
  });

/** The calling user as a statement sees it: the id once the key is known, else found by the key inside the statement. */
export type Caller = { userId: number } | { keyHash: string };

export const callerOf = (c: Context<AppBindings>): Caller =>
  c.var.auth ? { userId: c.var.auth.user.id } : { keyHash: c.var.credentials.hash };

/** SQL for the caller's user id, with `param` (e.g. `?1`) bound to `callerParam(caller)`. */
export const callerUserIdSql = (caller: Caller, param: string) =>
  "userId" in caller ? param : `(SELECT user_id FROM personal_api_keys WHERE secure_value = ${param})`;

export const callerParam = (caller: Caller) => ("userId" in caller ? caller.userId : caller.keyHash);

/** The caller's user id as a drizzle SQL value (see `callerUserIdSql`). */
export const callerUserId = (caller: Caller): SQL =>
  "userId" in caller ? sql`${caller.userId}` : sql`(SELECT user_id FROM personal_api_keys WHERE secure_value = ${caller.keyHash})`;
