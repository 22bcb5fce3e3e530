import type { z } from "@hono/zod-openapi";
import { requireScope } from "../auth/scopes";
import { errorResponses } from "../lib/errors";

/** Route config shared by every API-key route: the security requirement, the scope check, the errors. */
export const secured = (scope: string) => ({
  security: [{ PersonalAPIKey: [] }],
  middleware: [requireScope(scope)],
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
