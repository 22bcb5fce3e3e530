import { and, eq, gt, isNull, or, sql } from "drizzle-orm";
import { createMiddleware } from "hono/factory";
import { createDb } from "../db/client";
import { organizationMemberships, organizations, personalApiKeys, projects, users } from "../db/schema";
import { enforceRateLimit } from "../http/rate-limit";
import { ApiError, notAuthenticated } from "../lib/errors";
import { sha256Hex } from "../lib/ids";
import { normalizePath } from "../lib/paths";
import { accessTargetOf, CURRENT_PROJECT } from "./access";
import type { AppBindings } from "./context";

// Writing last_used_at on every request would turn every read into a write; once an hour is
// precise enough for "when was this key last used".
const LAST_USED_RESOLUTION_MS = 60 * 60 * 1000;

/** `Authorization: Bearer <key>` (PostHog) or `Authorization: Token <key>` (SD Elements). */
export function bearerToken(header: string | undefined): string | null {
  const match = header?.match(/^(?:Bearer|Token)\s+(\S+)\s*$/i);
  return match?.[1] ?? null;
}

/**
 * `@current`: PostHog's "the project I am in". A key has no session, so: the oldest project (lowest
 * id) of the first organization the user joined, among the projects the key may reach. A key
 * restricted to one project therefore always means that project.
 */
const currentProjectSql = sql<number>`(
  SELECT cp.id FROM projects AS cp
  JOIN organization_memberships AS cm ON cm.organization_id = cp.organization_id AND cm.user_id = ${users.id}
  WHERE (coalesce(json_array_length(${personalApiKeys.scopedTeams}), 0) = 0
      OR cp.id IN (SELECT value FROM json_each(${personalApiKeys.scopedTeams})))
    AND (coalesce(json_array_length(${personalApiKeys.scopedOrganizations}), 0) = 0
      OR cp.organization_id IN (SELECT value FROM json_each(${personalApiKeys.scopedOrganizations})))
  ORDER BY cm.joined_at, cp.id LIMIT 1)`;

export const authenticate = createMiddleware<AppBindings>(async (c, next) => {
  const token = bearerToken(c.req.header("authorization"));
  if (!token) throw notAuthenticated();
  const db = createDb(c.env.DB);
  const target = accessTargetOf(normalizePath(new URL(c.req.url).pathname));
  // The caller's membership of the project or organization in the path is LEFT JOINed to the key
  // lookup (matching nothing when the path names neither): authentication and access cost one D1
  // round trip together.
  const [row] = await db
    .select({ key: personalApiKeys, user: users, project: projects, organization: organizations, level: organizationMemberships.level })
    .from(personalApiKeys)
    .innerJoin(users, eq(users.id, personalApiKeys.userId))
    .leftJoin(
      projects,
      target?.kind === "project" ? eq(projects.id, target.id === CURRENT_PROJECT ? currentProjectSql : target.id) : sql`0`,
    )
    .leftJoin(
      organizations,
      target?.kind === "project"
        ? eq(organizations.id, projects.organizationId)
        : target?.kind === "organization"
          ? eq(organizations.id, target.id)
          : sql`0`,
    )
    .leftJoin(
      organizationMemberships,
      and(eq(organizationMemberships.organizationId, organizations.id), eq(organizationMemberships.userId, users.id)),
    )
    .where(
      and(
        eq(personalApiKeys.secureValue, await sha256Hex(token)),
        or(isNull(personalApiKeys.expiresAt), gt(personalApiKeys.expiresAt, new Date())),
      ),
    )
    .limit(1);
  if (!row) {
    throw new ApiError(
      401,
      "authentication_error",
      "authentication_failed",
      "Personal API key found in request Authorization header is invalid.",
    );
  }
  // Per key, and only once the key is known: an unknown key is a 401 whatever its rate.
  await enforceRateLimit(c.env, "API_RATE_LIMITER", row.key.id);
  const now = Date.now();
  if (!row.key.lastUsedAt || now - row.key.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    c.executionCtx.waitUntil(
      db
        .update(personalApiKeys)
        .set({ lastUsedAt: new Date(now) })
        .where(eq(personalApiKeys.id, row.key.id))
        .then(() => undefined),
    );
  }
  c.set("auth", { key: row.key, user: row.user });
  const { project, organization, level } = row;
  const member = organization !== null && level !== null;
  if (target?.kind === "project") {
    c.set("prefetchedAccess", { ...target, row: member && project ? { project, organization, level } : undefined });
  } else if (target?.kind === "organization") {
    c.set("prefetchedAccess", { ...target, row: member ? { organization, level } : undefined });
  }
  await next();
});
