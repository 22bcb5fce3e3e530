import { and, eq, type SQL } from "drizzle-orm";
import type { Context } from "hono";
import { actorFromRequest } from "../audit/record";
import { projectAccess, projectIdOf } from "../auth/access";
import type { AppBindings, ProjectAccess } from "../auth/context";
import { callerOf } from "../auth/one-trip";
import { createDb } from "../db/client";
import { inList } from "../db/in-list";
import { changeRequests } from "../db/schema";
import { createRouter } from "../http/router";
import { ApiError, notFound, permissionDenied, validationError } from "../lib/errors";
import { limitOffsetPage } from "../lib/pagination";
import { CHANGE_REQUEST_STATES } from "./approvals.schemas";
import type { StepResult } from "./change-request.object";
import {
  changeRequestsPage,
  isVisible,
  roleIdsOf,
  serializeChangeRequest,
  serializeChangeRequestsWith,
  visibleInProjectId,
} from "./change-requests.queries";
import {
  approveChangeRequest,
  cancelChangeRequest,
  completeChangeRequest,
  createAppChangeRequest,
  getChangeRequest,
  listChangeRequests,
  rejectChangeRequest,
} from "./change-requests.routes";
import { changeRequestStub, evaluateGate, gateConflict } from "./gate";
import type { Voter } from "./model";

/** `state=a,b` or `state=a&state=b`, each a known state. */
function parseStates(value: string | string[] | undefined) {
  if (value === undefined) return null;
  const states = (Array.isArray(value) ? value : [value])
    .flatMap((v) => v.split(","))
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = states.find((s) => !(CHANGE_REQUEST_STATES as readonly string[]).includes(s));
  if (unknown) throw validationError(`"${unknown}" is not a valid state. Choose from: ${CHANGE_REQUEST_STATES.join(", ")}.`, "state");
  return states as (typeof CHANGE_REQUEST_STATES)[number][];
}

async function callerIn(c: Context<AppBindings>, access: ProjectAccess): Promise<Voter> {
  const userId = c.var.auth.user.id;
  return { userId, roleIds: await roleIdsOf(createDb(c.env.DB), access.organization.id, userId) };
}

/** A step of the request's object, answered as a decision (or as the object's refusal). */
async function step(c: Context<AppBindings>, voter: Voter, run: Promise<StepResult>) {
  const result = await run;
  if (!result.ok) {
    const { status, code, detail } = result.error;
    if (status === 404) throw notFound();
    if (status === 403) throw permissionDenied(detail);
    throw new ApiError(status, "validation_error", code, detail);
  }
  const change_request = await serializeChangeRequest(createDb(c.env.DB), result.snapshot, voter);
  return c.json(
    { status: result.status, message: result.message, change_request, ...(result.result ? { result: result.result } : {}) },
    200,
  );
}

/** The caller as a voter and the request's object (404 unless the request is visible in the project). */
async function target(c: Context<AppBindings>, params: { project_id: string; id: string }) {
  const access = await projectAccess(c, params.project_id);
  const [visible, voter] = await Promise.all([isVisible(createDb(c.env.DB), access.project, params.id), callerIn(c, access)]);
  if (!visible) throw notFound();
  return { voter, stub: changeRequestStub(c.env, params.id) };
}

export const changeRequestsRouter = createRouter()
  .openapi(listChangeRequests, async (c) => {
    const projectId = projectIdOf(c, c.req.valid("param").project_id);
    const query = c.req.valid("query");
    const states = parseStates(query.state);
    const conditions: SQL[] = [visibleInProjectId(projectId)];
    if (states) conditions.push(inList(changeRequests.state, states));
    if (query.action_key !== undefined) conditions.push(eq(changeRequests.actionKey, query.action_key));
    if (query.requester !== undefined) conditions.push(eq(changeRequests.createdById, query.requester));
    if (query.resource_type !== undefined) conditions.push(eq(changeRequests.resourceType, query.resource_type));
    if (query.resource_id !== undefined) conditions.push(eq(changeRequests.resourceId, query.resource_id));
    const where = and(...conditions) as SQL;
    const page = await changeRequestsPage(createDb(c.env.DB), projectId, where, query, callerOf(c));
    await projectAccess(c, projectId);
    const results = serializeChangeRequestsWith(page.snapshots, { userId: c.var.auth.user.id, roleIds: page.roleIds }, page.people);
    return c.json(limitOffsetPage(c.req.url, query, page.total, results), 200);
  })
  .openapi(createAppChangeRequest, async (c) => {
    const access = await projectAccess(c, c.req.valid("param").project_id);
    const body = c.req.valid("json");
    const outcome = await evaluateGate(c, {
      actionKey: body.action_key,
      targets: [{ organizationId: access.organization.id, teamId: access.project.id }],
      resourceType: body.resource_type,
      resourceId: body.resource_id ?? null,
      intent: body.intent as Parameters<typeof evaluateGate>[1]["intent"],
      intentDisplay: {
        description: body.intent_display.description,
        before: body.intent_display.before ?? null,
        after: body.intent_display.after ?? null,
      },
    });
    if (outcome.outcome === "pass") return c.json({ status: "not_required" as const, message: outcome.message, change_request: null }, 200);
    if (outcome.outcome === "pending") throw await gateConflict(c, outcome);
    return c.json(await serializeChangeRequest(createDb(c.env.DB), outcome.snapshot, outcome.voter), 201);
  })
  .openapi(getChangeRequest, async (c) => {
    const params = c.req.valid("param");
    const projectId = projectIdOf(c, params.project_id);
    const where = and(eq(changeRequests.id, params.id), visibleInProjectId(projectId)) as SQL;
    const page = await changeRequestsPage(createDb(c.env.DB), projectId, where, { limit: 1, offset: 0 }, callerOf(c));
    await projectAccess(c, projectId);
    const [result] = serializeChangeRequestsWith(page.snapshots, { userId: c.var.auth.user.id, roleIds: page.roleIds }, page.people);
    if (!result) throw notFound();
    return c.json(result, 200);
  })
  .openapi(approveChangeRequest, async (c) => {
    const { voter, stub } = await target(c, c.req.valid("param"));
    const reason = c.req.valid("json").reason ?? "";
    return step(c, voter, stub.approve({ id: c.req.valid("param").id, voter, actor: actorFromRequest(c), reason }));
  })
  .openapi(rejectChangeRequest, async (c) => {
    const { voter, stub } = await target(c, c.req.valid("param"));
    const { reason } = c.req.valid("json");
    return step(c, voter, stub.reject({ id: c.req.valid("param").id, voter, actor: actorFromRequest(c), reason }));
  })
  .openapi(cancelChangeRequest, async (c) => {
    const { voter, stub } = await target(c, c.req.valid("param"));
    const reason = c.req.valid("json").reason || "Canceled by requester";
    return step(c, voter, stub.cancel({ id: c.req.valid("param").id, userId: voter.userId, actor: actorFromRequest(c), reason }));
  })
  .openapi(completeChangeRequest, async (c) => {
    const { voter, stub } = await target(c, c.req.valid("param"));
    const body = c.req.valid("json");
    if (!body.success && !body.apply_error?.trim())
      throw validationError("Say why the change could not be applied.", "apply_error", "required");
    return step(
      c,
      voter,
      stub.complete({
        id: c.req.valid("param").id,
        userId: voter.userId,
        actor: actorFromRequest(c),
        success: body.success,
        resultData: body.result_data ?? null,
        applyError: body.apply_error?.trim() ?? "",
      }),
    );
  });
