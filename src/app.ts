import { OpenAPIHono } from "@hono/zod-openapi";
import { requestId } from "hono/request-id";
import { startTime, timing } from "hono/timing";
import { activityRouter, chainRouter } from "./activity";
import { alertsRouter } from "./alerts";
import { changeRequestsRouter, policiesRouter } from "./approvals";
import { authenticate } from "./auth/authenticate";
import type { AppBindings } from "./auth/context";
import { exportsRouter } from "./exports";
import { errorResponse, fromZodError, notFound } from "./lib/errors";
import { normalizePath } from "./lib/paths";
import { logsIngestRouter, logsRouter } from "./logs";
import { organizationDestinationsRouter, projectDestinationsRouter } from "./notifications";
import { registerOpenApi } from "./openapi";
import { invitesRouter, membersRouter, organizationsRouter, rolesRouter } from "./organizations";
import { personalApiKeysRouter } from "./personal-api-keys";
import { projectsRouter } from "./projects";
import { sdeRouter } from "./sde";
import { signupRouter } from "./signup";
import { usersRouter } from "./users";
import "./approval-actions";
import { viewerTokensRouter } from "./viewer";

const PUBLIC_PATHS = ["/api/signup", "/api/schema", "/api/activity_log/public_key"];

export const app = new OpenAPIHono<AppBindings>({
  getPath: (request) => normalizePath(new URL(request.url).pathname),
  defaultHook: (result) => {
    if (!result.success) throw fromZodError(result.error);
  },
});

// `X-Request-Id` on every response: the caller's own if it sent a valid one, else Cloudflare's ray
// id (what Cloudflare's logs are searched by), else a UUID; 500s log it.
app.use("*", requestId({ generator: (c) => c.req.header("cf-ray") ?? crypto.randomUUID() }));

// Server-Timing lets clients and the benchmarks see time spent in the Worker (I/O included), apart
// from the network: `app` for the whole request (ended by the middleware after everything else),
// plus `db` from the routes that time their D1 work (lib/time `dbTimed`).
app.use("*", timing({ total: false }), (c, next) => {
  startTime(c, "app");
  return next();
});

app.get("/healthz", (c) => c.json({ ok: true }));

// The web viewer (web/): static files under /app/. It runs in the browser against this API with the
// caller's key, so its page may load nothing but its own files and talk to nothing but this origin.
const VIEWER_HEADERS = {
  "Content-Security-Policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
};
app.get("/app/*", async (c) => {
  const url = new URL(c.req.url);
  // Page paths of the single-page app (no file extension) all load its index.
  const path = /\.[a-z0-9]+$/i.test(url.pathname) ? url.pathname : "/app/";
  const response = await c.env.ASSETS.fetch(new Request(new URL(path, url), c.req.raw));
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(VIEWER_HEADERS)) headers.set(name, value);
  return new Response(response.body, { status: response.status, headers });
});

app.use("/api/*", async (c, next) => {
  const path = normalizePath(new URL(c.req.url).pathname);
  if (PUBLIC_PATHS.some((p) => path === p || path.startsWith(`${p}/`))) return next();
  return authenticate(c, next);
});

const routers = [
  signupRouter,
  usersRouter,
  personalApiKeysRouter,
  organizationsRouter,
  membersRouter,
  invitesRouter,
  rolesRouter,
  projectsRouter,
  policiesRouter,
  changeRequestsRouter,
  projectDestinationsRouter,
  organizationDestinationsRouter,
  logsIngestRouter,
  logsRouter,
  alertsRouter,
  activityRouter,
  chainRouter,
  exportsRouter,
  sdeRouter,
  viewerTokensRouter,
] as const;
for (const router of routers) app.route("/", router);

registerOpenApi(app);

app.notFound((c) => c.json(notFound().toJSON(), 404));
app.onError(errorResponse);
