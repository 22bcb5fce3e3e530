import { and, eq } from "drizzle-orm";
import { MembershipLevel } from "../auth/levels";
import type { Db } from "../db/client";
import { organizationMemberships, organizations, projects } from "../db/schema";
import { ApiError } from "../lib/errors";
import { isoRequired } from "../lib/time";
import { assertLevelChangeAllowed, findMember, planMemberLevelUpdate } from "../organizations/members.router";
import { planOrganizationDelete, planOrganizationUpdate } from "../organizations/organizations.router";
import { OrganizationUpdateSchema } from "../organizations/organizations.routes";
import { KeyCreateSchema, planPersonalApiKeyCreate, validateRestrictions } from "../personal-api-keys/personal-api-keys.router";
import { planProjectDelete } from "../projects/projects.router";
import { PolicyPatchSchema } from "./approvals.schemas";
import type { ChangeRequestRecord } from "./model";
import { findPolicy, planPolicyDelete, planPolicyUpdate, resolvePolicyInput } from "./policies.queries";
import { type ActionContext, type ApplyPlan, displayIntent, registerApprovalAction, ValidationFailed } from "./registry";

// The service's own gated actions. Each apply re-checks what its handler checked, as the requester
// (`applied_by`), and reuses the handler's plan function so the change records the same activity.

const NOTHING: Pick<ApplyPlan, "writes" | "entries"> = { writes: [], entries: [] };

/** The requester's id, still holding at least `minLevel` in the request's organization. */
async function requester(db: Db, changeRequest: ChangeRequestRecord, minLevel: number): Promise<{ id: number; level: number }> {
  const id = changeRequest.createdById;
  if (id === null) throw new ValidationFailed("the requester no longer exists");
  const [membership] = await db
    .select({ level: organizationMemberships.level })
    .from(organizationMemberships)
    .where(and(eq(organizationMemberships.organizationId, changeRequest.organizationId), eq(organizationMemberships.userId, id)));
  if (!membership || membership.level < minLevel) {
    throw new ValidationFailed(
      `the requester is no longer ${minLevel >= MembershipLevel.owner ? "an owner" : "an admin"} of this organization`,
    );
  }
  return { id, level: membership.level };
}

function parsed<T>(result: { success: true; data: T } | { success: false; error: { issues: { message: string }[] } }): T {
  if (!result.success) throw new ValidationFailed(result.error.issues[0]?.message ?? "invalid request data");
  return result.data;
}

/** A lookup that answers 404 means the resource is gone. */
async function orNull<T>(lookup: Promise<T>): Promise<T | null> {
  try {
    return await lookup;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

async function organizationOf({ db, changeRequest }: ActionContext) {
  const [org] = await db.select().from(organizations).where(eq(organizations.id, changeRequest.organizationId));
  return org ?? null;
}

async function projectOf({ db, changeRequest }: ActionContext) {
  const [project] = await db
    .select()
    .from(projects)
    .where(eq(projects.id, Number(changeRequest.resourceId)));
  return project ?? null;
}

const policyOf = ({ db, changeRequest }: ActionContext) =>
  orNull(findPolicy(db, changeRequest.organizationId, Number(changeRequest.intent.project_id), changeRequest.resourceId ?? ""));

const updatedAt = (row: { updatedAt: Date } | null) => (row ? { updated_at: isoRequired(row.updatedAt) } : null);

registerApprovalAction({
  key: "organization.update",
  resourceType: "Organization",
  level: "organization",
  intentDisplay: displayIntent((name) => `Update organization "${name}"`),
  preconditions: async (ctx) => updatedAt(await organizationOf(ctx)),
  apply: async (ctx) => {
    await requester(ctx.db, ctx.changeRequest, MembershipLevel.admin);
    const organization = (await organizationOf(ctx))!;
    const body = parsed(OrganizationUpdateSchema.safeParse(ctx.changeRequest.intent.full_request_data));
    const plan = planOrganizationUpdate(ctx.db, organization, body) ?? NOTHING;
    return { ...plan, result: { resource_id: organization.id, resource_version: null } };
  },
});

registerApprovalAction({
  key: "organization.delete",
  resourceType: "Organization",
  level: "organization",
  intentDisplay: displayIntent((name) => `Delete organization "${name}"`),
  preconditions: async (ctx) => updatedAt(await organizationOf(ctx)),
  apply: async (ctx) => {
    await requester(ctx.db, ctx.changeRequest, MembershipLevel.owner);
    const organization = (await organizationOf(ctx))!;
    return { ...planOrganizationDelete(ctx.db, organization), result: { resource_id: organization.id, resource_version: null } };
  },
});

registerApprovalAction({
  key: "organization_member.update",
  resourceType: "OrganizationMembership",
  level: "organization",
  intentDisplay: displayIntent((email) => `Change the access level of ${email}`),
  preconditions: async ({ db, changeRequest }) => {
    const member = await orNull(findMember(db, changeRequest.organizationId, changeRequest.resourceId ?? ""));
    return member ? { level: member.membership.level, updated_at: isoRequired(member.membership.updatedAt) } : null;
  },
  apply: async ({ db, changeRequest }) => {
    const actor = await requester(db, changeRequest, MembershipLevel.admin);
    const target = await findMember(db, changeRequest.organizationId, changeRequest.resourceId ?? "");
    const newLevel = Number(changeRequest.intent.full_request_data.level);
    assertLevelChangeAllowed(actor.id, actor.level, target, newLevel);
    const plan = planMemberLevelUpdate(db, changeRequest.organizationId, target, newLevel) ?? NOTHING;
    return { ...plan, result: { resource_id: target.user.uuid, resource_version: null } };
  },
});

registerApprovalAction({
  key: "personal_api_key.create",
  resourceType: "PersonalAPIKey",
  level: "organization",
  intentDisplay: displayIntent((label) => `Create personal API key "${label}" with all scopes`),
  // A create has no earlier version to compare with; the apply re-validates the restrictions instead.
  preconditions: async () => ({}),
  apply: async ({ db, changeRequest, privateData }) => {
    const userId = changeRequest.createdById;
    if (userId === null) throw new ValidationFailed("the requester no longer exists");
    const body = parsed(KeyCreateSchema.safeParse(changeRequest.intent.full_request_data));
    await validateRestrictions(db, userId, body);
    const { id, secure_value, mask_value } = (privateData ?? {}) as Record<string, string | undefined>;
    if (!id || !secure_value || !mask_value) throw new ValidationFailed("the pending key is missing");
    const row = {
      id,
      userId,
      label: body.label,
      secureValue: secure_value,
      maskValue: mask_value,
      scopes: body.scopes,
      scopedOrganizations: body.scoped_organizations ?? null,
      scopedTeams: body.scoped_teams ?? null,
      createdAt: new Date(),
    };
    const { writes, entries } = await planPersonalApiKeyCreate(db, userId, row);
    return { writes, entries, result: { resource_id: id, resource_version: null } };
  },
});

registerApprovalAction({
  key: "project.delete",
  resourceType: "Project",
  level: "project",
  intentDisplay: displayIntent((name) => `Delete project "${name}"`),
  preconditions: async (ctx) => updatedAt(await projectOf(ctx)),
  apply: async (ctx) => {
    await requester(ctx.db, ctx.changeRequest, MembershipLevel.admin);
    const project = (await projectOf(ctx))!;
    return { ...planProjectDelete(ctx.db, project), result: { resource_id: String(project.id), resource_version: null } };
  },
});

registerApprovalAction({
  key: "approval_policy.update",
  resourceType: "ApprovalPolicy",
  level: "project",
  intentDisplay: displayIntent((actionKey) => `Update the approval policy of ${actionKey}`),
  preconditions: async (ctx) => updatedAt(await policyOf(ctx)),
  apply: async (ctx) => {
    await requester(ctx.db, ctx.changeRequest, MembershipLevel.admin);
    const policy = (await policyOf(ctx))!;
    const { intent, organizationId } = ctx.changeRequest;
    const body = parsed(PolicyPatchSchema.safeParse(intent.full_request_data));
    const values = await resolvePolicyInput(ctx.db, organizationId, Number(intent.project_id), body, policy);
    const plan = planPolicyUpdate(ctx.db, policy, values) ?? NOTHING;
    return { writes: plan.writes, entries: plan.entries, result: { resource_id: policy.id, resource_version: null } };
  },
});

registerApprovalAction({
  key: "approval_policy.delete",
  resourceType: "ApprovalPolicy",
  level: "project",
  intentDisplay: displayIntent((actionKey) => `Delete the approval policy of ${actionKey}`),
  preconditions: async (ctx) => updatedAt(await policyOf(ctx)),
  apply: async (ctx) => {
    await requester(ctx.db, ctx.changeRequest, MembershipLevel.admin);
    const policy = (await policyOf(ctx))!;
    return { ...planPolicyDelete(ctx.db, policy), result: { resource_id: policy.id, resource_version: null } };
  },
});
