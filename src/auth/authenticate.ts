import { getTableColumns, type Table } from "drizzle-orm";
import { toSnakeCase } from "drizzle-orm/casing";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { organizations, personalApiKeys, projects, users } from "../db/schema";
import { enforceRateLimit } from "../http/rate-limit";
import type { D1Like } from "../lib/d1-trips";
import { ApiError, notAuthenticated } from "../lib/errors";
import { sha256Hex } from "../lib/ids";
import { normalizePath } from "../lib/paths";
import { accessTargetOf, CURRENT_PROJECT } from "./access";
import type { AppBindings, Credentials, Organization, PersonalApiKey, Project, User } from "./context";

// Writing last_used_at on every request would turn every read into a write; once an hour is
// precise enough for "when was this key last used".
const LAST_USED_RESOLUTION_MS = 60 * 60 * 1000;

/** `Authorization: Bearer <key>` (PostHog) or `Authorization: Token <key>` (SD Elements). */
export function bearerToken(header: string | undefined): string | null {
  const match = header?.match(/^(?:Bearer|Token)\s+(\S+)\s*$/i);
  return match?.[1] ?? null;
}

/**
 * Every `/api` route but the public ones: a request without a key is a 401 here, before any D1 work;
 * the key itself is looked up by the route's `secured` middleware (`authenticate`), or inside the
 * route's first D1 batch for the one-round-trip reads (`oneTripAuth`).
 */
export const readCredentials = createMiddleware<AppBindings>(async (c, next) => {
  const token = bearerToken(c.req.header("authorization"));
  if (!token) throw notAuthenticated();
  const hash = await sha256Hex(token);
  // Per key (by its hash: each viewer link is a key of its own), before D1 is touched, so a key
  // over its limit costs no database work, one-trip reads included. A secret that is no key has a
  // counter too, but is refused as unknown (401) long before it could fill it.
  await enforceRateLimit(c.env, "API_RATE_LIMITER", hash);
  c.set("credentials", { hash, target: accessTargetOf(normalizePath(new URL(c.req.url).pathname)) });
  await next();
});

type Columns = Record<string, { name: string; keyAsName: boolean; mapFromDriverValue(value: unknown): unknown }>;
const JOINED = { k: personalApiKeys, u: users, p: projects, o: organizations } as const;
const columnsOf = (table: Table) => Object.entries(getTableColumns(table) as unknown as Columns);
const SELECT_LIST = Object.entries(JOINED)
  .flatMap(([alias, table]) =>
    columnsOf(table).map(([key, column]) => `${alias}."${column.keyAsName ? toSnakeCase(column.name) : column.name}" AS "${alias}_${key}"`),
  )
  .join(", ");

/** A row of the key lookup as the drizzle type of `table`; null for a LEFT JOIN that matched nothing. */
function entity<T>(row: Record<string, unknown>, alias: keyof typeof JOINED): T | null {
  if (row[`${alias}_id`] === null || row[`${alias}_id`] === undefined) return null;
  const out: Record<string, unknown> = {};
  for (const [key, column] of columnsOf(JOINED[alias])) {
    const value = row[`${alias}_${key}`];
    out[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return out as T;
}

/**
 * `@current`: PostHog's "the project I am in". A key has no session, so: the oldest project (lowest
 * id) of the first organization the user joined, among the projects the key may reach. A key
 * restricted to one project therefore always means that project.
 */
const CURRENT_PROJECT_SQL = `(
  SELECT cp.id FROM projects AS cp
  JOIN organization_memberships AS cm ON cm.organization_id = cp.organization_id AND cm.user_id = u.id
  WHERE (coalesce(json_array_length(k.scoped_teams), 0) = 0 OR cp.id IN (SELECT value FROM json_each(k.scoped_teams)))
    AND (coalesce(json_array_length(k.scoped_organizations), 0) = 0 OR cp.organization_id IN (SELECT value FROM json_each(k.scoped_organizations)))
  ORDER BY cm.joined_at, cp.id LIMIT 1)`;

/**
 * The parameters every key statement starts with: `?1` the key's hash, `?2` now (an expired key is
 * unknown), `?3` the id of the project or organization the path names, when it names one.
 */
export function keyParameters({ hash, target }: Credentials, now: number): unknown[] {
  return target && target.id !== CURRENT_PROJECT ? [hash, now, target.id] : [hash, now];
}

/**
 * The key lookup, with the caller's membership of the project or organization in the path LEFT
 * JOINed (matching nothing when the path names neither): authentication and access in one statement.
 * `extraColumns` adds columns over the same parameters (the one-trip guard's verdict).
 */
export function keyLookup(db: D1Like, credentials: Credentials, now: number, extraColumns = ""): D1PreparedStatement {
  const { target } = credentials;
  const joins =
    target?.kind === "project"
      ? `LEFT JOIN projects p ON p.id = ${target.id === CURRENT_PROJECT ? CURRENT_PROJECT_SQL : "?3"} LEFT JOIN organizations o ON o.id = p.organization_id`
      : target?.kind === "organization"
        ? "LEFT JOIN projects p ON 0 LEFT JOIN organizations o ON o.id = ?3"
        : "LEFT JOIN projects p ON 0 LEFT JOIN organizations o ON 0";
  return db
    .prepare(
      `SELECT ${SELECT_LIST}, m.level AS m_level${extraColumns} FROM personal_api_keys k JOIN users u ON u.id = k.user_id ${joins} ` +
        "LEFT JOIN organization_memberships m ON m.organization_id = o.id AND m.user_id = u.id " +
        "WHERE k.secure_value = ?1 AND (k.expires_at IS NULL OR k.expires_at > ?2) LIMIT 1",
    )
    .bind(...keyParameters(credentials, now));
}

/** Sets `auth` and `prefetchedAccess` from the key lookup's row; 401 when there is none. */
export async function applyKeyLookup(c: Context<AppBindings>, row: Record<string, unknown> | null | undefined) {
  const key = row && entity<PersonalApiKey>(row, "k");
  const user = row && entity<User>(row, "u");
  if (!row || !key || !user) {
    throw new ApiError(
      401,
      "authentication_error",
      "authentication_failed",
      "Personal API key found in request Authorization header is invalid.",
    );
  }
  const now = Date.now();
  if (!key.lastUsedAt || now - key.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    // Off the response path (the binding itself, not the request's session): not one of its round trips.
    c.executionCtx.waitUntil(
      c.var.backgroundDb
        .prepare("UPDATE personal_api_keys SET last_used_at = ?1 WHERE id = ?2")
        .bind(now, key.id)
        .run()
        .then(() => undefined),
    );
  }
  c.set("auth", { key, user });
  const project = entity<Project>(row, "p");
  const organization = entity<Organization>(row, "o");
  const level = row.m_level as number | null;
  const member = organization !== null && level !== null;
  const { target } = c.var.credentials;
  if (target?.kind === "project") {
    c.set("prefetchedAccess", { ...target, row: member && project ? { project, organization, level } : undefined });
  } else if (target?.kind === "organization") {
    c.set("prefetchedAccess", { ...target, row: member ? { organization, level } : undefined });
  }
}

/** The key lookup as a round trip of its own. */
export async function resolveAuth(c: Context<AppBindings>, db: D1Like = c.env.DB) {
  const row = await keyLookup(db, c.var.credentials, Date.now()).first<Record<string, unknown>>();
  await applyKeyLookup(c, row);
}

/** Routes that do not fold the key lookup into their reads: one round trip for key and membership. */
export const authenticate = createMiddleware<AppBindings>(async (c, next) => {
  if (!c.var.auth) await resolveAuth(c);
  await next();
});
