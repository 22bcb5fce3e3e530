import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppBindings } from "../auth/context";
import { ErrorSchema } from "../lib/errors";
import { DOCS_HTML } from "./docs-page";

const DOCUMENT_CONFIG = {
  openapi: "3.1.0",
  info: {
    title: "Edge audit API",
    version: "1.0.0",
    description:
      "PostHog-compatible activity log, change approvals and logs alerting on Cloudflare Workers. " +
      "Every `/api/projects/{project_id}/...` route is also served at `/api/environments/{project_id}/...`, " +
      "and every route accepts an optional trailing slash.",
  },
  security: [{ PersonalAPIKey: [] }],
};

export function registerOpenApi(app: OpenAPIHono<AppBindings>) {
  app.openAPIRegistry.registerComponent("securitySchemes", "PersonalAPIKey", {
    type: "http",
    scheme: "bearer",
    description: "A personal API key (`phx_...`). `Authorization: Token <key>` is accepted too.",
  });
  app.openAPIRegistry.register("Error", ErrorSchema);
  app.doc31("/api/schema", (c) => ({ ...DOCUMENT_CONFIG, servers: [{ url: new URL(c.req.url).origin }] }));
  app.get("/api/schema/docs", (c) => c.html(DOCS_HTML));
}
