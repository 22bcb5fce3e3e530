import { MembershipLevel } from "../auth/levels";
import { PolicyPatchSchema } from "./approvals.schemas";
import { findPolicy, planPolicyDelete, planPolicyUpdate, resolvePolicyInput } from "./policies.queries";
import {
  type ActionContext,
  type ApprovalAction,
  displayIntent,
  NO_WRITES,
  orNull,
  parsedIntent,
  requesterAtLevel,
  updatedAtPrecondition,
} from "./registry";

// Approval actions this module owns: what an approved change request re-checks and writes, as the
// requester (`applied_by`), through the same plan functions as the handlers, so it records the same activity.

const policyOf = ({ db, changeRequest }: ActionContext) =>
  orNull(findPolicy(db, changeRequest.organizationId, Number(changeRequest.intent.project_id), changeRequest.resourceId ?? ""));

const updatePolicy: ApprovalAction = {
  key: "approval_policy.update",
  resourceType: "ApprovalPolicy",
  level: "project",
  intentDisplay: displayIntent((actionKey) => `Update the approval policy of ${actionKey}`),
  preconditions: async (ctx) => updatedAtPrecondition(await policyOf(ctx)),
  apply: async (ctx) => {
    await requesterAtLevel(ctx.db, ctx.changeRequest, MembershipLevel.admin);
    const policy = (await policyOf(ctx))!;
    const { intent, organizationId } = ctx.changeRequest;
    const body = parsedIntent(PolicyPatchSchema.safeParse(intent.full_request_data));
    const values = await resolvePolicyInput(ctx.db, organizationId, Number(intent.project_id), body, policy);
    const plan = planPolicyUpdate(ctx.db, policy, values) ?? NO_WRITES;
    return { writes: plan.writes, entries: plan.entries, result: { resource_id: policy.id, resource_version: null } };
  },
};

const deletePolicy: ApprovalAction = {
  key: "approval_policy.delete",
  resourceType: "ApprovalPolicy",
  level: "project",
  intentDisplay: displayIntent((actionKey) => `Delete the approval policy of ${actionKey}`),
  preconditions: async (ctx) => updatedAtPrecondition(await policyOf(ctx)),
  apply: async (ctx) => {
    await requesterAtLevel(ctx.db, ctx.changeRequest, MembershipLevel.admin);
    const policy = (await policyOf(ctx))!;
    return { ...planPolicyDelete(ctx.db, policy), result: { resource_id: policy.id, resource_version: null } };
  },
};

export const policiesActions: ApprovalAction[] = [updatePolicy, deletePolicy];
