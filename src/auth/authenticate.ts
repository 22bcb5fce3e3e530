import { and, eq, gt, isNull, or, sql } from "drizzle-orm";
import { createMiddleware } from "hono/factory";
import { createDb } from "../db/client";
import { organizationMemberships, organizations, personalApiKeys, projects, users } from "../db/schema";
import { ApiError, notAuthenticated } from "../lib/errors";
import { sha256Hex } from "../lib/ids";
import { normalizePath } from "../lib/paths";
import { accessTargetOf } from "./access";
import type { AppBindings } from "./context";

// Writing last_used_at on every request would turn every read into a write; once an hour is
// precise enough for "when was this key last used".
const LAST_USED_RESOLUTION_MS = 60 * 60 * 1000;

/** `Authorization: Bearer <key>` (PostHog) or `Authorization: Token <key>` (SD Elements). */
export function bearerToken(header: string | undefined): string | null {
  const match = header?.match(/^(?:Bearer|Token)\s+(\S+)\s*$/i);
  return match?.[1] ?? null;
}

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
    .leftJoin(projects, target?.kind === "project" ? eq(projects.id, target.id) : sql`0`)
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
