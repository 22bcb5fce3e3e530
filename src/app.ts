import { OpenAPIHono } from "@hono/zod-openapi";
import { activityRouter } from "./activity/activity.router";
import { alertsRouter } from "./alerts/alerts.router";
import { changeRequestsRouter } from "./approvals/change-requests.router";
import { policiesRouter } from "./approvals/policies.router";
import { authenticate } from "./auth/authenticate";
import type { AppBindings } from "./env";
import { exportsRouter } from "./exports/exports.router";
import { errorResponse, fromZodError, notFound } from "./lib/errors";
import { normalizePath } from "./lib/paths";
import { logsIngestRouter } from "./logs/ingest.router";
import { logsRouter } from "./logs/logs.router";
import { organizationDestinationsRouter, projectDestinationsRouter } from "./notifications/destinations.router";
import { registerOpenApi } from "./openapi/openapi.router";
import { invitesRouter } from "./organizations/invites.router";
import { membersRouter } from "./organizations/members.router";
import { organizationsRouter } from "./organizations/organizations.router";
import { rolesRouter } from "./organizations/roles.router";
import { personalApiKeysRouter } from "./personal-api-keys/personal-api-keys.router";
import { projectsRouter } from "./projects/projects.router";
import { sdeRouter } from "./sde/sde.router";
import { signupRouter } from "./signup/signup.router";
import { usersRouter } from "./users/users.router";

const PUBLIC_PATHS = ["/api/signup", "/api/schema"];

export const app = new OpenAPIHono<AppBindings>({
  getPath: (request) => normalizePath(new URL(request.url).pathname),
  defaultHook: (result) => {
    if (!result.success) throw fromZodError(result.error);
  },
});

// Lets clients and the benchmarks see time spent in the Worker (I/O included), apart from the network.
app.use("*", async (c, next) => {
  const started = Date.now();
  await next();
  c.res.headers.append("Server-Timing", `app;dur=${Date.now() - started}`);
});

app.get("/healthz", (c) => c.json({ ok: true }));

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
  exportsRouter,
  sdeRouter,
] as const;
for (const router of routers) app.route("/", router);

registerOpenApi(app);

app.notFound((c) => c.json(notFound().toJSON(), 404));
app.onError(errorResponse);
