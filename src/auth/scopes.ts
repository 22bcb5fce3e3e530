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
    if (!hasScope(c.var.auth.key.scopes, scope)) throw permissionDenied(`API key missing required scope '${scope}'`);
    await next();
  });
