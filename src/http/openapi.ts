import type { z } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { assertRouteLevel } from "../auth/access";
import { authenticate } from "../auth/authenticate";
import type { AppBindings } from "../auth/context";
import type { RouteLevel } from "../auth/levels";
import { oneTripAuth } from "../auth/one-trip";
import { requireScope } from "../auth/scopes";
import { errorResponses } from "../lib/errors";

export type { RouteLevel };

/** The OpenAPI extension that states a route's level; the authorization suite reads it. */
export const LEVEL_EXTENSION = "x-membership-level";

/**
 * Checks membership before the body is validated, so a stranger learns nothing, not even which
 * fields are wrong. Handlers read the same access row again (prefetched: no second query).
 */
const requireLevel = (level: RouteLevel) =>
  createMiddleware<AppBindings>(async (c, next) => {
    await assertRouteLevel(c, level);
    await next();
  });

/**
 * Route config shared by every API-key route: the security requirement naming its scope (as
 * PostHog's schema does), its membership level, the checks of both, and the errors. The key is
 * looked up first (`authenticate`: one round trip with the path's membership), then checked.
 * `oneTrip` reads fold the key lookup into their first D1 batch instead (`oneTripAuth`): the same
 * checks on the lookup's row, and statements guarded inside SQL until they pass. Such a handler
 * reads before it has `c.var.auth`, and calls `projectAccess` / `organizationAccess` after its
 * first batch (they then reuse the lookup's row).
 */
export const secured = (scope: string, level: RouteLevel, options: { oneTrip?: boolean } = {}) => ({
  security: [{ PersonalAPIKey: [scope] }],
  [LEVEL_EXTENSION]: level,
  middleware: options.oneTrip ? [oneTripAuth(scope, level)] : [authenticate, requireScope(scope), requireLevel(level)],
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
