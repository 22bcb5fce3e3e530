import { and, eq } from "drizzle-orm";
import type { Context } from "hono";
import { actorFromRequest } from "../audit/record";
import type { AppBindings } from "../auth/context";
import { createDb } from "../db/client";
import { inList } from "../db/in-list";
import { type ApproverConfig, approvalPolicies, type ChangeIntent, type IntentDisplay, organizationMemberships } from "../db/schema";
import type { Env } from "../env";
import { ApiError, conflict, validationError } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { IntentSchema } from "./approvals.schemas";
import type { ChangeRequestObject } from "./change-request.object";
import { findOpenChangeRequest, roleIdsOf, serializeChangeRequest } from "./change-requests.queries";
import { conditionsMatch } from "./conditions";
import { type ChangeRequestRecord, type ChangeRequestSnapshot, isApprover, type Voter } from "./model";
import type { PolicyRow } from "./policies.queries";
import { getApprovalAction, isAppActionKey } from "./registry";

/** Where a change lands. A change reaching several organizations (a `*` key) has several targets. */
export interface GateTarget {
  organizationId: string;
  teamId: number | null;
}

export interface GateRequest {
  actionKey: string;
  targets: GateTarget[];
  resourceId: string | null;
  intent: ChangeIntent;
  /** App keys only: registered actions know their resource type and render their own display. */
  resourceType?: string;
  intentDisplay?: IntentDisplay;
  /** Kept for the apply, never shown (e.g. a pending key's hash). */
  privateData?: Record<string, unknown>;
  /** Extra fields of the 409 approval_required body (e.g. the pending key's value, for its requester only). */
  responseExtra?: Record<string, unknown>;
}

export type GateOutcome =
  | { outcome: "pass"; message: string }
  | { outcome: "approval_required"; message: string; snapshot: ChangeRequestSnapshot; approvers: ApproverConfig; voter: Voter }
  | { outcome: "pending"; snapshot: ChangeRequestSnapshot; voter: Voter };

const MAX_INTENT_BYTES = 64 * 1024;

type ChangeRequestSteps = Pick<ChangeRequestObject, "create" | "approve" | "reject" | "cancel" | "complete" | "revalidate">;

/**
 * The object of a change request (one per id). Typed by its methods: the RPC stub's derived
 * types reject the JSON-valued (`unknown`) fields of intents.
 */
export const changeRequestStub = (env: Env, id: string) =>
  env.CHANGE_REQUESTS.get(env.CHANGE_REQUESTS.idFromName(id)) as unknown as ChangeRequestSteps;

function policyName(policy: PolicyRow) {
  return `${policy.actionKey} (${policy.teamId === null ? `organization ${policy.organizationId}` : `project ${policy.teamId}`})`;
}

/**
 * PostHog's approval gate, in its order: invalid intent -> 400; more than one matching policy ->
 * 400 policy_conflict; bypass or no matching policy -> pass; an open request for the same action
 * and resource -> pending; otherwise a new change request (its Durable Object writes it).
 * For each target the project's own enabled policy wins over the organization-wide one.
 */
export async function evaluateGate(c: Context<AppBindings>, request: GateRequest): Promise<GateOutcome> {
  const parsed = IntentSchema.safeParse(request.intent);
  if (!parsed.success) throw validationError(parsed.error.issues[0]?.message ?? "Invalid intent.", "intent");
  if (JSON.stringify(request.intent).length > MAX_INTENT_BYTES) throw validationError("The intent is larger than 64 KB.", "intent");
  const intent = parsed.data as ChangeIntent;
  const action = getApprovalAction(request.actionKey);
  if (!action && !isAppActionKey(request.actionKey)) throw new Error(`approval action ${request.actionKey} is not registered`);

  const db = createDb(c.env.DB);
  const organizationIds = [...new Set(request.targets.map((t) => t.organizationId))];
  const policies = await db
    .select()
    .from(approvalPolicies)
    .where(
      and(
        eq(approvalPolicies.actionKey, request.actionKey),
        eq(approvalPolicies.enabled, true),
        inList(approvalPolicies.organizationId, organizationIds),
      ),
    );
  const matching = request.targets.flatMap((target) => {
    const inOrg = policies.filter((p) => p.organizationId === target.organizationId);
    const policy = inOrg.find((p) => target.teamId !== null && p.teamId === target.teamId) ?? inOrg.find((p) => p.teamId === null);
    return policy && conditionsMatch(policy.conditions, intent) ? [{ policy, target }] : [];
  });
  if (matching.length > 1) {
    throw new ApiError(400, "validation_error", "policy_conflict", "This change matches multiple approval policies", null, {
      error: "This change matches multiple approval policies",
      conflicting_policies: matching.map(({ policy }) => ({ id: policy.id, name: policyName(policy) })),
      guidance: "Split your changes into separate API calls to address each policy independently",
    });
  }
  const [match] = matching;
  if (!match)
    return { outcome: "pass", message: policies.length ? "Change does not require approval" : "No approval policy for this action" };

  const { policy, target } = match;
  const userId = c.var.auth.user.id;
  const [[membership], roleIds] = await Promise.all([
    db
      .select({ level: organizationMemberships.level })
      .from(organizationMemberships)
      .where(and(eq(organizationMemberships.organizationId, target.organizationId), eq(organizationMemberships.userId, userId))),
    roleIdsOf(db, target.organizationId, userId),
  ]);
  const voter: Voter = { userId, roleIds };
  const bypassLevels = policy.bypassOrgMembershipLevels.map(Number);
  if ((membership && bypassLevels.includes(membership.level)) || roleIds.some((r) => policy.bypassRoles.includes(r))) {
    return { outcome: "pass", message: "User has bypass" };
  }

  const resourceType = action?.resourceType ?? request.resourceType ?? "";
  const openKey = { actionKey: request.actionKey, ...target, resourceType, resourceId: request.resourceId, createdById: userId };
  const existing = await findOpenChangeRequest(db, openKey);
  if (existing) return { outcome: "pending", snapshot: existing, voter };

  const now = Date.now();
  const record: ChangeRequestRecord = {
    id: uuidv7(now),
    organizationId: target.organizationId,
    teamId: target.teamId,
    actionKey: request.actionKey,
    actionVersion: 1,
    resourceType,
    resourceId: request.resourceId,
    intent,
    intentDisplay: action
      ? action.intentDisplay(intent)
      : (request.intentDisplay ?? { description: request.actionKey, before: null, after: null }),
    policySnapshot: {
      quorum: policy.approverConfig.quorum,
      users: policy.approverConfig.users,
      roles: policy.approverConfig.roles,
      allow_self_approve: policy.allowSelfApprove,
      conditions: policy.conditions,
      bypass_org_membership_levels: bypassLevels,
      bypass_roles: policy.bypassRoles,
    },
    validationStatus: "valid",
    validationErrors: null,
    validatedAt: now,
    state: "pending",
    createdById: userId,
    appliedById: null,
    createdAt: now,
    updatedAt: now,
    expiresAt: now + policy.expiresAfterSeconds * 1000,
    appliedAt: null,
    applyError: "",
    resultData: null,
  };
  const created = await changeRequestStub(c.env, record.id).create({
    record,
    privateData: request.privateData ?? null,
    actor: actorFromRequest(c),
  });
  if (!created.snapshot) {
    // Lost a race with an identical gated write: the unique index kept only the winner's request.
    const winner = await findOpenChangeRequest(db, openKey);
    if (winner) return { outcome: "pending", snapshot: winner, voter };
    throw conflict("change_request_pending", "A pending approval request already exists for this action");
  }
  const message =
    !policy.allowSelfApprove && isApprover(record, voter)
      ? "A change request has been created and is pending approval from others."
      : "A change request has been created and is pending approval.";
  return { outcome: "approval_required", message, snapshot: created.snapshot, approvers: policy.approverConfig, voter };
}

/** The 409 a gated write answers when it did not pass: change_request_pending or approval_required. */
export async function gateConflict(c: Context<AppBindings>, outcome: Exclude<GateOutcome, { outcome: "pass" }>, extra = {}) {
  const changeRequest = await serializeChangeRequest(createDb(c.env.DB), outcome.snapshot, outcome.voter);
  const resource = {
    resource_type: changeRequest.resource_type,
    resource_id: changeRequest.resource_id,
    change_request_id: changeRequest.id,
  };
  if (outcome.outcome === "pending") {
    return conflict("change_request_pending", "A pending approval request already exists for this action", {
      error: "A pending approval request already exists for this action",
      ...resource,
      change_request: changeRequest,
      existing_change_request: changeRequest,
    });
  }
  return conflict("approval_required", outcome.message, {
    status: "approval_required",
    message: outcome.message,
    ...resource,
    change_request: changeRequest,
    required_approvers: outcome.approvers,
    ...extra,
  });
}

/**
 * What a gated write handler calls before writing: returns when the write may go ahead, otherwise
 * throws the 409 (or 400) the caller answers. The change then happens when the request is applied.
 */
export async function approvalGate(c: Context<AppBindings>, request: GateRequest): Promise<void> {
  const outcome = await evaluateGate(c, request);
  if (outcome.outcome !== "pass") throw await gateConflict(c, outcome, request.responseExtra);
}
