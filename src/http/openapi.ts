import type { z } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { accessTargetOf, assertNotProjectScoped, organizationAccess, projectAccess } from "../auth/access";
import type { AppBindings } from "../auth/context";
import { MembershipLevel } from "../auth/levels";
import { requireScope } from "../auth/scopes";
import { errorResponses, notFound } from "../lib/errors";
import { normalizePath } from "../lib/paths";

/**
 * Who may call a route, besides the key's scope: `user` any key's user (the route reaches no
 * organization or project through its path, e.g. the user's own keys), otherwise the least
 * membership level in the organization or project the path names.
 */
export type RouteLevel = "user" | keyof typeof MembershipLevel;

/** The OpenAPI extension that states a route's level; the authorization suite reads it. */
export const LEVEL_EXTENSION = "x-membership-level";

/** Every organization route, the list and create ones included, is out of a project-scoped key's reach. */
const ORGANIZATION_ROUTES = /^\/api\/organizations(\/|$)/;

/**
 * Checks membership before the body is validated, so a stranger learns nothing, not even which
 * fields are wrong. Handlers read the same access row again (prefetched: no second query).
 */
const requireLevel = (level: RouteLevel) =>
  createMiddleware<AppBindings>(async (c, next) => {
    const path = normalizePath(new URL(c.req.url).pathname);
    if (ORGANIZATION_ROUTES.test(path)) assertNotProjectScoped(c);
    if (level !== "user") {
      const target = accessTargetOf(path);
      if (!target) throw notFound();
      const minLevel = MembershipLevel[level];
      if (target.kind === "project") await projectAccess(c, target.id, minLevel);
      else await organizationAccess(c, target.id, minLevel);
    }
    await next();
  });

/**
 * Route config shared by every API-key route: the security requirement naming its scope (as
 * PostHog's schema does), its membership level, the checks of both, and the errors.
 */
export const secured = (scope: string, level: RouteLevel) => ({
  security: [{ PersonalAPIKey: [scope] }],
  [LEVEL_EXTENSION]: level,
  middleware: [requireScope(scope), requireLevel(level)],
});

export const json = <T extends z.ZodTypeAny>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

export const jsonBody = <T extends z.ZodTypeAny>(schema: T) => ({
  required: true,
  content: { "application/json": { schema } },
});

export { errorResponses };
