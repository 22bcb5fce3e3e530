import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppBindings } from "../auth/context";
import { ErrorSchema } from "../lib/errors";
import { DOCS_HTML } from "./docs-page";
import { nullableRefsAsAnyOf } from "./document";

const DOCUMENT_CONFIG = {
  openapi: "3.1.0",
  info: {
    title: "Edge audit API",
    version: "1.0.0",
    description:
      "PostHog-compatible activity log, change approvals and logs alerting on Cloudflare Workers. " +
      "Every `/api/projects/{project_id}/...` route is also served at `/api/environments/{project_id}/...`, " +
      "and every route accepts an optional trailing slash.\n\n" +
      "Authenticate with a personal API key: `Authorization: Bearer phx_...`. Errors use PostHog's envelope " +
      "`{type, code, detail, attr}`; lists are `{count, next, previous, results}` pages.",
    license: { name: "MIT", identifier: "MIT" },
  },
  // Filled in per request with the origin the document was fetched from.
  servers: [],
  security: [{ PersonalAPIKey: [] }],
  tags: [
    { name: "signup", description: "The first user of an instance, and joining an organization with an invite." },
    { name: "users", description: "The user an API key belongs to." },
    { name: "personal api keys", description: "Keys with scopes and organization or project restrictions; a value is shown once." },
    { name: "organizations", description: "Organizations (uuid) own projects, members, roles and destinations." },
    { name: "organization members", description: "Membership levels: 1 member, 8 admin, 15 owner." },
    { name: "organization invites", description: "Invites; the secret token is shown once, when created." },
    { name: "roles", description: "Named groups of members that approval policies name as approvers or bypass." },
    { name: "projects", description: "Projects (integer id) with their logs ingestion token `api_token`." },
    { name: "activity_log", description: "The audit trail: every write of this API, and apps' own changes, in hash-chained rows." },
    { name: "exports", description: "CSV and XLSX files built in the background." },
    { name: "approvals", description: "Approval policies on actions, and the change requests they gate." },
    { name: "logs", description: "OTLP/HTTP logs ingestion and queries." },
    { name: "logs alerts", description: "Threshold alerts on logs counts: N of M windows, cooldown, snooze." },
    { name: "notifications", description: "Slack and signed webhook destinations for activity, alerts and change requests." },
    { name: "viewer tokens", description: "Short-lived, read-only links to the web viewer at `/app/`." },
    { name: "sd_elements", description: "The SD Elements style activities feed (`Authorization: Token <key>`)." },
  ],
};

export function registerOpenApi(app: OpenAPIHono<AppBindings>) {
  app.openAPIRegistry.registerComponent("securitySchemes", "PersonalAPIKey", {
    type: "http",
    scheme: "bearer",
    description: "A personal API key (`phx_...`). `Authorization: Token <key>` is accepted too.",
  });
  app.openAPIRegistry.register("Error", ErrorSchema);
  let document: ReturnType<typeof app.getOpenAPI31Document> | undefined;
  app.get("/api/schema", (c) => {
    document ??= nullableRefsAsAnyOf(app.getOpenAPI31Document(DOCUMENT_CONFIG));
    return c.json({ ...document, servers: [{ url: new URL(c.req.url).origin, description: "This server" }] });
  });
  app.get("/api/schema/docs", (c) => c.html(DOCS_HTML));
  // The Scalar bundle is a static asset (wrangler.toml [assets], copied there by `npm run viewer:build`),
  // copied into a new Response because an asset response's headers are immutable (Server-Timing is added).
  app.get("/api/schema/docs/scalar.js", async (c) => {
    const asset = await c.env.ASSETS.fetch(new Request(new URL("/api-reference/scalar.js", c.req.url)));
    return new Response(asset.body, asset);
  });
}
