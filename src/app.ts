import { OpenAPIHono } from "@hono/zod-openapi";
import { activityRouter } from "./activity";
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
