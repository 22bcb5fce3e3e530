import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { requestId } from "hono/request-id";
import { routePath } from "hono/route";
import { startTime, timing } from "hono/timing";
import { activityRouter, chainRouter } from "./activity";
import { alertsRouter } from "./alerts";
import { changeRequestsRouter, policiesRouter } from "./approvals";
import { readCredentials, resolveAuth } from "./auth/authenticate";
import type { AppBindings } from "./auth/context";
import { exportsRouter } from "./exports";
import { requestDatabase } from "./http/database";
import { ApiError, errorResponse, fromZodError, notFound } from "./lib/errors";
import { log, withLogContext } from "./lib/log";
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

/** The organization and project a route template names, for the request's log line. */
function tenantOf(route: string, path: string): { organization_id?: string; project_id?: string } {
  const names = route.split("/");
  const values = path.split("/");
  const params: Record<string, string> = {};
  names.forEach((name, i) => {
    if (name.startsWith(":") && values[i] !== undefined) params[name.slice(1)] = values[i];
  });
  const byId = (prefix: string) => (route.startsWith(`${prefix}/:id`) ? params.id : undefined);
  return {
    organization_id: params.organization_id ?? params.org_id ?? byId("/api/organizations"),
    project_id: params.project_id ?? params.environment_id ?? byId("/api/projects") ?? byId("/api/environments"),
  };
}

/** Error bodies carry the request id, whichever handler wrote them. */
async function addRequestId(c: Context<AppBindings>) {
  if (!c.res.headers.get("content-type")?.startsWith("application/json")) return;
  const body = (await c.res.clone().json()) as Record<string, unknown>;
  if (typeof body !== "object" || body === null || !("type" in body)) return;
  c.res = new Response(JSON.stringify({ ...body, request_id: c.var.requestId }), { status: c.res.status, headers: c.res.headers });
}

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
// plus `db`: the request's D1 round trips and the time spent waiting on them (`http/database.ts`).
app.use("*", timing({ total: false }), (c, next) => {
  startTime(c, "app");
  return next();
});

// The request's D1: a Sessions API session (read replicas, `X-D1-Bookmark`), counting round trips.
app.use("*", requestDatabase);

/**
 * How long the request's own log line waits. A console call is not free where something listens
 * (under wrangler dev, the inspector's console message: 4.7 ms of the isolate's CPU per read in a
 * profile, docs/performance.md), and a Worker has no "response sent" event: a timer of 0 still ran
 * before the answer had left the local runtime, this one runs after it.
 */
export const REQUEST_LOG_DELAY_MS = 10;

// One JSON log line per request; every line written while serving it names its request id. The
// request's own line is written off its response path (REQUEST_LOG_DELAY_MS).
app.use("*", (c, next) =>
  withLogContext({ request_id: c.var.requestId }, async () => {
    const started = Date.now();
    await next();
    const ms = Date.now() - started;
    if (c.res.status >= 400) await addRequestId(c);
    const route = routePath(c, -1);
    const fields = { method: c.req.method, route, status: c.res.status, ms, ...tenantOf(route, c.req.path) };
    c.executionCtx.waitUntil(scheduler.wait(REQUEST_LOG_DELAY_MS).then(() => log("info", "request", fields)));
  }),
);

// D1 answering a trivial read is what the API needs to serve anything; 503 names what failed.
app.get("/healthz", async (c) => {
  try {
    await c.env.DB.prepare("SELECT 1").first();
    return c.json({ ok: true, checks: { d1: "ok" } });
  } catch (error) {
    log("error", "health check failed", { check: "d1", error });
    return c.json(
      new ApiError(503, "server_error", "unavailable", `D1 is unavailable: ${String(error)}`, "d1", { checks: { d1: "failed" } }).toJSON(),
      503,
    );
  }
});

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
  return readCredentials(c, next);
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

// An unknown `/api` path answers as before the key lookup moved into the routes: 401 for an
// invalid key, 404 for a valid one.
app.notFound(async (c) => {
  if (c.var.credentials && !c.var.auth) await resolveAuth(c);
  return c.json(notFound().toJSON(), 404);
});
app.onError(errorResponse);
