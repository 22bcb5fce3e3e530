import { and, eq, sql } from "drizzle-orm";
import { approvalGate, changeIntent } from "../approvals";
import { commitWithActivity, createdChange, diffChanges, writeContext } from "../audit/record";
import { projectAccess, projectIdOf } from "../auth/access";
import { createDb } from "../db/client";
import { logsAlertEvents, logsAlerts } from "../db/schema";
import { createRouter } from "../http/router";
import { notFound, validationError } from "../lib/errors";
import { limitOffsetPage } from "../lib/pagination";
import { resetTransition } from "./alert.machine";
import { alertPreconditions, DELETE_ACTION, isGatedUpdate, UPDATE_ACTION } from "./alerts.actions";
import {
  ALERT_SCOPE,
  alertActivity,
  alertEventsPage,
  alertsPageOf,
  auditedFields,
  controlEventRow,
  findAlert,
  newAlert,
  planDelete,
  planUpdate,
  reloadAlert,
} from "./alerts.queries";
import {
  createAlert,
  deleteAlert,
  getAlert,
  linkDestination,
  listAlertEvents,
  listAlerts,
  resetAlert,
  simulateAlert,
  unlinkDestinations,
  updateAlert,
} from "./alerts.routes";
import { MAX_ALERTS_PER_PROJECT } from "./alerts.schemas";
import { linkedDestinations, planLink, planUnlink } from "./destinations";
import { simulate } from "./simulate";

/** The fields of `a` that differ in `b`: the intent shows what the edit changes. */
function changedOnly(a: Record<string, unknown>, b: Record<string, unknown>) {
  return Object.fromEntries(Object.entries(a).filter(([field, value]) => JSON.stringify(value) !== JSON.stringify(b[field])));
}

const LIMIT_TRIGGER = "logs_alerts_limit_per_project";

function isLimitError(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) if (e.message.includes(LIMIT_TRIGGER)) return true;
  return false;
}

export const alertsRouter = createRouter()
  .openapi(listAlerts, async (c) => {
    const projectId = projectIdOf(c, c.req.valid("param").project_id);
    const page = c.req.valid("query");
    const { total, results } = await alertsPageOf(createDb(c.env.DB), projectId, page);
    await projectAccess(c, projectId);
    return c.json(limitOffsetPage(c.req.url, page, total, results), 200);
  })
  .openapi(createAlert, async (c) => {
    const { project } = await projectAccess(c, c.req.valid("param").project_id);
    const db = createDb(c.env.DB);
    const alert = newAlert(project, c.var.auth.user.id, c.req.valid("json"), Date.now());
    try {
      await commitWithActivity(
        writeContext(c, db),
        [db.insert(logsAlerts).values(alert)],
        [alertActivity(alert, "created", { changes: createdChange(ALERT_SCOPE, auditedFields(alert)) })],
      );
    } catch (error) {
      if (isLimitError(error)) {
        throw validationError(`A project can have at most ${MAX_ALERTS_PER_PROJECT} logs alerts.`, null, "max_alerts");
      }
      throw error;
    }
    return c.json(await reloadAlert(db, project.id, alert.id), 201);
  })
  .openapi(simulateAlert, async (c) => {
    const { project } = await projectAccess(c, c.req.valid("param").project_id);
    return c.json(await simulate(createDb(c.env.DB), project.id, c.req.valid("json"), Date.now()), 200);
  })
  .openapi(getAlert, async (c) => {
    const { project_id, id } = c.req.valid("param");
    const projectId = projectIdOf(c, project_id);
    const { results } = await alertsPageOf(createDb(c.env.DB), projectId, { limit: 1, offset: 0 }, id);
    await projectAccess(c, projectId);
    if (!results[0]) throw notFound();
    return c.json(results[0], 200);
  })
  .openapi(updateAlert, async (c) => {
    const { project_id, id } = c.req.valid("param");
    const { project } = await projectAccess(c, project_id);
    const db = createDb(c.env.DB);
    const alert = await findAlert(db, project.id, id);
    const body = c.req.valid("json");
    const plan = planUpdate(db, alert, body, Date.now());
    if (!plan.writes.length) return c.json(await reloadAlert(db, project.id, id), 200);
    const before = auditedFields(alert);
    const after = auditedFields(plan.after);
    if (isGatedUpdate(before, after)) {
      await approvalGate(c, {
        actionKey: UPDATE_ACTION,
        targets: [{ organizationId: alert.organizationId, teamId: alert.teamId }],
        resourceId: alert.id,
        intent: changeIntent({
          name: alert.name,
          before: changedOnly(before, after),
          after: changedOnly(after, before),
          request: body,
          preconditions: alertPreconditions(alert),
          method: "PATCH",
        }),
      });
    }
    await commitWithActivity(writeContext(c, db), plan.writes, plan.entries);
    return c.json(await reloadAlert(db, project.id, id), 200);
  })
  .openapi(deleteAlert, async (c) => {
    const { project_id, id } = c.req.valid("param");
    const { project } = await projectAccess(c, project_id);
    const db = createDb(c.env.DB);
    const alert = await findAlert(db, project.id, id);
    await approvalGate(c, {
      actionKey: DELETE_ACTION,
      targets: [{ organizationId: alert.organizationId, teamId: alert.teamId }],
      resourceId: alert.id,
      intent: changeIntent({
        name: alert.name,
        before: auditedFields(alert),
        after: {},
        request: {},
        preconditions: alertPreconditions(alert),
        method: "DELETE",
      }),
    });
    const plan = await planDelete(db, alert);
    await commitWithActivity(writeContext(c, db), plan.writes, plan.entries);
    return c.body(null, 204);
  })
  .openapi(resetAlert, async (c) => {
    const { project_id, id } = c.req.valid("param");
    const { project } = await projectAccess(c, project_id);
    const db = createDb(c.env.DB);
    const alert = await findAlert(db, project.id, id);
    const transition = resetTransition(alert);
    if (!transition) throw validationError(`Only a broken alert can be reset; this one is ${alert.state}.`, null, "not_broken");
    const now = Date.now();
    const after = { ...alert, state: transition.state, consecutiveFailures: 0 };
    await commitWithActivity(
      writeContext(c, db),
      [
        db
          .update(logsAlerts)
          .set({
            state: transition.state,
            consecutiveFailures: 0,
            lastErrorMessage: null,
            nextCheckAt: alert.enabled ? new Date(now) : null,
            recentBreaches: 0,
            version: sql`${logsAlerts.version} + 1`,
            updatedAt: new Date(now),
          })
          // Only if still broken: a concurrent reset or edit already moved it on.
          .where(and(eq(logsAlerts.id, alert.id), eq(logsAlerts.state, "broken"))),
        db.insert(logsAlertEvents).values(controlEventRow(alert, alert.state, transition, now)),
      ],
      [alertActivity(alert, "reset", { changes: diffChanges(ALERT_SCOPE, auditedFields(alert), auditedFields(after)) })],
    );
    return c.json(await reloadAlert(db, project.id, id), 200);
  })
  .openapi(listAlertEvents, async (c) => {
    const { project_id, id } = c.req.valid("param");
    const projectId = projectIdOf(c, project_id);
    const page = c.req.valid("query");
    const { total, results } = await alertEventsPage(createDb(c.env.DB), projectId, id, page);
    await projectAccess(c, projectId);
    return c.json(limitOffsetPage(c.req.url, page, total, results), 200);
  })
  .openapi(linkDestination, async (c) => {
    const { project_id, id } = c.req.valid("param");
    const { project } = await projectAccess(c, project_id);
    const db = createDb(c.env.DB);
    const alert = await findAlert(db, project.id, id);
    const link = await planLink(db, c.env, alert, c.var.auth.user.id, c.req.valid("json"));
    await commitWithActivity(writeContext(c, db), link.writes, link.entries);
    return c.json({ hog_function_ids: [link.destination.id], secret: link.secret }, 201);
  })
  .openapi(unlinkDestinations, async (c) => {
    const { project_id, id } = c.req.valid("param");
    const { project } = await projectAccess(c, project_id);
    const db = createDb(c.env.DB);
    const alert = await findAlert(db, project.id, id);
    const ids = [...new Set(c.req.valid("json").hog_function_ids)];
    const destinations = await linkedDestinations(db, alert.id, ids);
    const unknown = ids.find((destinationId) => !destinations.some((d) => d.id === destinationId));
    if (unknown) throw validationError(`${unknown} is not a destination of this alert.`, "hog_function_ids");
    const plan = planUnlink(db, destinations);
    await commitWithActivity(writeContext(c, db), plan.writes, plan.entries);
    return c.body(null, 204);
  });
