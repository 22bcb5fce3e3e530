import { createMiddleware } from "hono/factory";
import { permissionDenied } from "../lib/errors";
import type { AppBindings } from "./context";

export const SCOPE_OBJECTS = [
  "activity_log",
  "approvals",
  "logs",
  "organization",
  "organization_member",
  "personal_api_key",
  "project",
  "user",
  "export",
] as const;

export const ALL_SCOPES = ["*", ...SCOPE_OBJECTS.flatMap((o) => [`${o}:read`, `${o}:write`])];

/** PostHog's rule: `*` passes everything and `x:write` satisfies `x:read`. */
export function hasScope(granted: readonly string[], required: string): boolean {
  if (granted.includes("*") || granted.includes(required)) return true;
  const [object, action] = required.split(":");
  return action === "read" && granted.includes(`${object}:write`);
}

export const requireScope = (scope: string) =>
  createMiddleware<AppBindings>(async (c, next) => {
    assertScope(c.var.auth.key.scopes, scope);
    await next();
  });

export function assertScope(granted: readonly string[], scope: string) {
  if (!hasScope(granted, scope)) throw permissionDenied(`API key missing required scope '${scope}'`);
}

/** The granted scopes that satisfy `required` (see `hasScope`), for a check inside SQL. */
export function scopesSatisfying(required: string): string[] {
  const [object, action] = required.split(":");
  return action === "read" ? ["*", required, `${object}:write`] : ["*", required];
}
