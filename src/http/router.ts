import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppBindings } from "../auth/context";
import { fromZodError } from "../lib/errors";
import { withFormBodies } from "./form-body";

/**
 * Every router validates with the same hook so zod failures become PostHog's 400 envelope, and
 * every route taking a JSON body takes it form-encoded too.
 */
export function createRouter() {
  const router = new OpenAPIHono<AppBindings>({
    defaultHook: (result) => {
      if (!result.success) throw fromZodError(result.error);
    },
  });
  const openapi = router.openapi;
  router.openapi = ((route, handler, hook) => openapi(withFormBodies(route), handler, hook)) as typeof openapi;
  return router;
}

export type AppRouter = ReturnType<typeof createRouter>;
