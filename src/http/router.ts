import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppBindings } from "../auth/context";
import { fromZodError } from "../lib/errors";

/** Every router validates with the same hook so zod failures become PostHog's 400 envelope. */
export function createRouter() {
  return new OpenAPIHono<AppBindings>({
    defaultHook: (result) => {
      if (!result.success) throw fromZodError(result.error);
    },
  });
}

export type AppRouter = ReturnType<typeof createRouter>;
