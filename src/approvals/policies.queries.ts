import { and, count, eq, isNull, ne, or, type SQL, sql } from "drizzle-orm";
import { type ActivityEntry, createdChange, deletedChange, diffChanges } from "../audit/record";
import type { Db } from "../db/client";
import { inList } from "../db/in-list";
import { approvalPolicies, organizationMemberships, roleMemberships, roles, users } from "../db/schema";
import { notFound, validationError } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { isoRequired } from "../lib/time";
import { serializeUserBasic } from "../users";
import type { PolicyInput } from "./approvals.schemas";
import { formatDuration, parseDuration } from "./duration";
import { getApprovalAction, isAppActionKey, registeredActionKeys } from "./registry";

export type PolicyRow = typeof approvalPolicies.$inferSelect;
type PolicyValues = Omit<PolicyRow, "id" | "createdById" | "createdAt" | "updatedAt">;

const SCOPE = "ApprovalPolicy";
const DEFAULT_EXPIRES_AFTER = 14 * 86400;
const MAX_EXPIRES_AFTER = 365 * 86400;

/** Policies a project shows: its own and its organization's organization-wide ones. */
export const policiesVisibleIn = (organizationId: string, projectId: number): SQL =>
  and(
    eq(approvalPolicies.organizationId, organizationId),
    or(eq(approvalPolicies.teamId, projectId), isNull(approvalPolicies.teamId)),
  ) as SQL;

export async function findPolicy(db: Db, organizationId: string, projectId: number, id: string): Promise<PolicyRow> {
  const [row] = await db
    .select()
    .from(approvalPolicies)
    .where(and(eq(approvalPolicies.id, id), policiesVisibleIn(organizationId, projectId)));
  if (!row) throw notFound();
  return row;
}

/** The API fields of a policy, also what its activity diffs compare. */
export function policyView(policy: PolicyValues) {
  return {
    action_key: policy.actionKey,
    conditions: policy.conditions as Record<string, unknown>,
    approver_config: policy.approverConfig,
    allow_self_approve: policy.allowSelfApprove,
    bypass_org_membership_levels: policy.bypassOrgMembershipLevels,
    bypass_roles: policy.bypassRoles,
    expires_after: formatDuration(policy.expiresAfterSeconds),
    enabled: policy.enabled,
    organization_wide: policy.teamId === null,
  };
}

export async function serializePolicies(db: Db, rows: PolicyRow[]) {
  const creatorIds = [...new Set(rows.map((r) => r.createdById).filter((id): id is number => id !== null))];
  const creators = creatorIds.length ? await db.select().from(users).where(inList(users.id, creatorIds)) : [];
  const byId = new Map(creators.map((u) => [u.id, serializeUserBasic(u)]));
  return rows.map((row) => ({
    id: row.id,
    ...policyView(row),
    created_by: row.createdById === null ? null : (byId.get(row.createdById) ?? null),
    created_at: isoRequired(row.createdAt),
    updated_at: isoRequired(row.updatedAt),
  }));
}

/** Users who could ever approve under this config: the named users plus the named roles' members. */
async function possibleApprovers(db: Db, userIds: number[], roleIds: string[]): Promise<number> {
  const members = roleIds.length
    ? await db.select({ userId: roleMemberships.userId }).from(roleMemberships).where(inList(roleMemberships.roleId, roleIds))
    : [];
  return new Set([...userIds, ...members.map((m) => m.userId)]).size;
}

async function assertRolesInOrganization(db: Db, organizationId: string, roleIds: string[], attr: string) {
  if (!roleIds.length) return;
  const found = await db
    .select({ id: roles.id })
    .from(roles)
    .where(and(eq(roles.organizationId, organizationId), inList(roles.id, roleIds)));
  const missing = roleIds.filter((id) => !found.some((r) => r.id === id));
  if (missing.length) throw validationError(`Roles do not exist in this organization: ${missing.join(", ")}`, attr);
}

/**
 * Validates a create (existing = null) or an update of a policy and returns its column values:
 * registered action key, approvers that are members / roles of the organization, a quorum they
 * can reach, bypass levels and roles, a positive expiry, and one policy per (scope, action).
 */
export async function resolvePolicyInput(
  db: Db,
  organizationId: string,
  projectId: number,
  input: PolicyInput,
  existing: PolicyRow | null,
): Promise<PolicyValues> {
  const actionKey = input.action_key ?? existing?.actionKey ?? "";
  const action = getApprovalAction(actionKey);
  if (!action && !isAppActionKey(actionKey)) {
    throw validationError(
      `"${actionKey}" is not a valid choice. Choose one of: ${registeredActionKeys().join(", ")}, or an app key starting with "app.".`,
      "action_key",
      "invalid_choice",
    );
  }
  const organizationLevel = action?.level === "organization";
  if (organizationLevel && input.organization_wide === false) {
    throw validationError("This action is organization-level: its policy always applies to the whole organization.", "organization_wide");
  }
  const organizationWide = organizationLevel || (input.organization_wide ?? (existing ? existing.teamId === null : false));
  const teamId = organizationWide ? null : projectId;

  const approverConfig = input.approver_config ?? existing?.approverConfig;
  if (!approverConfig) throw validationError("This field is required.", "approver_config", "required");
  const approverUsers = [...new Set(approverConfig.users)];
  const approverRoles = [...new Set(approverConfig.roles)];
  if (approverUsers.length) {
    const members = await db
      .select({ userId: organizationMemberships.userId })
      .from(organizationMemberships)
      .where(and(eq(organizationMemberships.organizationId, organizationId), inList(organizationMemberships.userId, approverUsers)));
    const strangers = approverUsers.filter((id) => !members.some((m) => m.userId === id));
    if (strangers.length) throw validationError(`Users are not members of this organization: ${strangers.join(", ")}`, "approver_config");
  }
  await assertRolesInOrganization(db, organizationId, approverRoles, "approver_config");
  const reachable = await possibleApprovers(db, approverUsers, approverRoles);
  if (approverConfig.quorum > reachable) {
    throw validationError(
      `Quorum (${approverConfig.quorum}) is larger than the number of possible approvers (${reachable}).`,
      "approver_config",
    );
  }

  const bypassRoles = [...new Set(input.bypass_roles === undefined ? (existing?.bypassRoles ?? []) : (input.bypass_roles ?? []))];
  await assertRolesInOrganization(db, organizationId, bypassRoles, "bypass_roles");
  // The newest PostHog serializer stores ints; older policies compared str(level): both are accepted.
  const bypassLevels =
    input.bypass_org_membership_levels === undefined
      ? (existing?.bypassOrgMembershipLevels ?? [])
      : [...new Set((input.bypass_org_membership_levels ?? []).map(Number))].sort((a, b) => a - b);

  let expiresAfterSeconds = existing?.expiresAfterSeconds ?? DEFAULT_EXPIRES_AFTER;
  if (input.expires_after !== undefined) {
    const seconds = parseDuration(input.expires_after) ?? 0;
    if (seconds < 1) throw validationError("Ensure this value is greater than 0.", "expires_after");
    if (seconds > MAX_EXPIRES_AFTER) throw validationError("Ensure this value is at most 365 days.", "expires_after");
    expiresAfterSeconds = Math.round(seconds);
  }

  const [duplicate] = await db
    .select({ id: approvalPolicies.id })
    .from(approvalPolicies)
    .where(
      and(
        eq(approvalPolicies.organizationId, organizationId),
        eq(approvalPolicies.actionKey, actionKey),
        teamId === null ? isNull(approvalPolicies.teamId) : eq(approvalPolicies.teamId, teamId),
        existing ? ne(approvalPolicies.id, existing.id) : sql`1 = 1`,
      ),
    )
    .limit(1);
  if (duplicate) throw duplicatePolicy();

  return {
    organizationId,
    teamId,
    actionKey,
    conditions: input.conditions === undefined ? (existing?.conditions ?? {}) : (input.conditions ?? {}),
    approverConfig: { users: approverUsers, roles: approverRoles, quorum: approverConfig.quorum },
    allowSelfApprove: input.allow_self_approve ?? existing?.allowSelfApprove ?? false,
    bypassOrgMembershipLevels: bypassLevels,
    bypassRoles,
    expiresAfterSeconds,
    enabled: input.enabled ?? existing?.enabled ?? true,
  };
}

export const duplicatePolicy = () =>
  validationError("A policy for this action already exists. You can edit the existing policy instead.", "action_key", "unique");

const activityEntry = (policy: {
  id: string;
  organizationId: string;
  teamId: number | null;
  actionKey: string;
}): Pick<ActivityEntry, "organizationId" | "teamId" | "scope" | "itemId"> => ({
  organizationId: policy.organizationId,
  teamId: policy.teamId,
  scope: SCOPE,
  itemId: policy.id,
});

export function planPolicyCreate(db: Db, values: PolicyValues, createdById: number) {
  const now = new Date();
  const row: PolicyRow = { ...values, id: uuidv7(), createdById, createdAt: now, updatedAt: now };
  const entries: ActivityEntry[] = [
    { ...activityEntry(row), activity: "created", detail: { name: row.actionKey, changes: createdChange(SCOPE, policyView(row)) } },
  ];
  return { row, writes: [db.insert(approvalPolicies).values(row)], entries };
}

/** The update's writes and activity, or null when nothing changes. Shared by the handler and the approval apply. */
export function planPolicyUpdate(db: Db, policy: PolicyRow, values: PolicyValues) {
  const changes = diffChanges(SCOPE, policyView(policy), policyView(values));
  if (!changes.length) return null;
  const entries: ActivityEntry[] = [{ ...activityEntry(policy), activity: "updated", detail: { name: values.actionKey, changes } }];
  return {
    changes,
    writes: [
      db
        .update(approvalPolicies)
        .set({ ...values, updatedAt: new Date() })
        .where(eq(approvalPolicies.id, policy.id)),
    ],
    entries,
  };
}

export function planPolicyDelete(db: Db, policy: PolicyRow) {
  const entries: ActivityEntry[] = [
    {
      ...activityEntry(policy),
      activity: "deleted",
      detail: { name: policy.actionKey, changes: deletedChange(SCOPE, policyView(policy)) },
    },
  ];
  return { writes: [db.delete(approvalPolicies).where(eq(approvalPolicies.id, policy.id))], entries };
}

export async function countPolicies(db: Db, where: SQL) {
  const [row] = await db.select({ n: count() }).from(approvalPolicies).where(where);
  return row?.n ?? 0;
}
