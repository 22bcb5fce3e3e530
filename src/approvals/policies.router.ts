import { and, desc, eq, type SQL } from "drizzle-orm";
import type { Context } from "hono";
import { commitWithActivity, writeContext } from "../audit/record";
import { projectAccess } from "../auth/access";
import type { AppBindings } from "../auth/context";
import { MembershipLevel } from "../auth/levels";
import { createDb } from "../db/client";
import { approvalPolicies } from "../db/schema";
import { createRouter } from "../http/router";
import { limitOffsetPage } from "../lib/pagination";
import { isoRequired } from "../lib/time";
import type { PolicyInput } from "./approvals.schemas";
import { approvalGate } from "./gate";
import {
  countPolicies,
  duplicatePolicy,
  findPolicy,
  planPolicyCreate,
  planPolicyDelete,
  planPolicyUpdate,
  policiesVisibleIn,
  resolvePolicyInput,
  serializePolicies,
} from "./policies.queries";
import { createPolicy, deletePolicy, getPolicy, listPolicies, patchPolicy, replacePolicy } from "./policies.routes";
import { changeIntent } from "./registry";

/** Two simultaneous creates of the same policy both pass the duplicate check; the unique index decides. */
async function commitPolicyWrite(commit: () => Promise<unknown>) {
  try {
    await commit();
  } catch (error) {
    if (String(error).includes("UNIQUE constraint failed")) throw duplicatePolicy();
    throw error;
  }
}

async function updatePolicy(c: Context<AppBindings>, body: PolicyInput, method: "PUT" | "PATCH") {
  const params = c.req.param() as { project_id: string; id: string };
  const { project } = await projectAccess(c, params.project_id, MembershipLevel.admin);
  const db = createDb(c.env.DB);
  const policy = await findPolicy(db, project.organizationId, project.id, params.id);
  const values = await resolvePolicyInput(db, project.organizationId, project.id, body, policy);
  const plan = planPolicyUpdate(db, policy, values);
  if (plan) {
    await approvalGate(c, {
      actionKey: "approval_policy.update",
      targets: [{ organizationId: policy.organizationId, teamId: policy.teamId }],
      resourceId: policy.id,
      intent: {
        ...changeIntent({
          name: policy.actionKey,
          before: Object.fromEntries(plan.changes.map((ch) => [ch.field, ch.before])),
          after: Object.fromEntries(plan.changes.map((ch) => [ch.field, ch.after])),
          request: body,
          preconditions: { updated_at: isoRequired(policy.updatedAt) },
          method,
        }),
        project_id: project.id,
      },
    });
    await commitPolicyWrite(() => commitWithActivity(writeContext(c, db), plan.writes, plan.entries));
  }
  const [result] = await serializePolicies(db, [await findPolicy(db, project.organizationId, project.id, policy.id)]);
  return c.json(result!, 200);
}

export const policiesRouter = createRouter()
  .openapi(listPolicies, async (c) => {
    const { project } = await projectAccess(c, c.req.valid("param").project_id);
    const query = c.req.valid("query");
    const db = createDb(c.env.DB);
    const conditions: SQL[] = [policiesVisibleIn(project.organizationId, project.id)];
    if (query.action_key !== undefined) conditions.push(eq(approvalPolicies.actionKey, query.action_key));
    if (query.enabled !== undefined) conditions.push(eq(approvalPolicies.enabled, query.enabled));
    const where = and(...conditions) as SQL;
    const [rows, total] = await Promise.all([
      db
        .select()
        .from(approvalPolicies)
        .where(where)
        .orderBy(desc(approvalPolicies.createdAt), desc(approvalPolicies.id))
        .limit(query.limit)
        .offset(query.offset),
      countPolicies(db, where),
    ]);
    return c.json(limitOffsetPage(c.req.url, query, total, await serializePolicies(db, rows)), 200);
  })
  .openapi(createPolicy, async (c) => {
    const { project } = await projectAccess(c, c.req.valid("param").project_id, MembershipLevel.admin);
    const db = createDb(c.env.DB);
    const values = await resolvePolicyInput(db, project.organizationId, project.id, c.req.valid("json"), null);
    const plan = planPolicyCreate(db, values, c.var.auth.user.id);
    await commitPolicyWrite(() => commitWithActivity(writeContext(c, db), plan.writes, plan.entries));
    const [result] = await serializePolicies(db, [plan.row]);
    return c.json(result!, 201);
  })
  .openapi(getPolicy, async (c) => {
    const params = c.req.valid("param");
    const { project } = await projectAccess(c, params.project_id);
    const db = createDb(c.env.DB);
    const [result] = await serializePolicies(db, [await findPolicy(db, project.organizationId, project.id, params.id)]);
    return c.json(result!, 200);
  })
  .openapi(replacePolicy, (c) => updatePolicy(c, c.req.valid("json"), "PUT"))
  .openapi(patchPolicy, (c) => updatePolicy(c, c.req.valid("json"), "PATCH"))
  .openapi(deletePolicy, async (c) => {
    const params = c.req.valid("param");
    const { project } = await projectAccess(c, params.project_id, MembershipLevel.admin);
    const db = createDb(c.env.DB);
    const policy = await findPolicy(db, project.organizationId, project.id, params.id);
    await approvalGate(c, {
      actionKey: "approval_policy.delete",
      targets: [{ organizationId: policy.organizationId, teamId: policy.teamId }],
      resourceId: policy.id,
      intent: {
        ...changeIntent({
          name: policy.actionKey,
          before: { action_key: policy.actionKey, enabled: policy.enabled },
          after: {},
          request: {},
          preconditions: { updated_at: isoRequired(policy.updatedAt) },
          method: "DELETE",
        }),
        project_id: project.id,
      },
    });
    const plan = planPolicyDelete(db, policy);
    await commitWithActivity(writeContext(c, db), plan.writes, plan.entries);
    return c.body(null, 204);
  });
