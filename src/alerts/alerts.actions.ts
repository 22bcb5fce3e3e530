import { and, eq } from "drizzle-orm";
import { type ActionContext, type ApprovalAction, displayIntent, ValidationFailed } from "../approvals";
import { organizationMemberships } from "../db/schema";
import { ApiError } from "../lib/errors";
import { isoRequired } from "../lib/time";
import { type AlertRow, findAlert, planDelete, planUpdate } from "./alerts.queries";
import { AlertUpdateSchema } from "./alerts.schemas";

// Changes that can silence an alert need sign-off when a policy says so: its rules (threshold,
// operator, filters), switching it off, and deleting it. Renames, cooldown and snoozes pass.

export const UPDATE_ACTION = "logs_alert.update";
export const DELETE_ACTION = "logs_alert.delete";
const GATED_RULES = ["threshold_count", "threshold_operator", "filters"];

/** Whether an edit from `before` to `after` (audited fields) is one a `logs_alert.update` policy gates. */
export function isGatedUpdate(before: Record<string, unknown>, after: Record<string, unknown>): boolean {
  if (before.enabled === true && after.enabled === false) return true;
  return GATED_RULES.some((field) => JSON.stringify(before[field]) !== JSON.stringify(after[field]));
}

/** What a change request pins: any later edit of the configuration makes its apply fail. */
export const alertPreconditions = (alert: AlertRow) => ({ updated_at: isoRequired(alert.updatedAt) });

async function alertOf({ db, changeRequest }: ActionContext): Promise<AlertRow | null> {
  try {
    return await findAlert(db, changeRequest.teamId ?? 0, changeRequest.resourceId ?? "");
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

/** The requester may still write alerts of the project: a member of its organization. */
async function assertRequesterMember({ db, changeRequest }: ActionContext): Promise<void> {
  const userId = changeRequest.createdById;
  const [membership] =
    userId === null
      ? []
      : await db
          .select({ level: organizationMemberships.level })
          .from(organizationMemberships)
          .where(and(eq(organizationMemberships.organizationId, changeRequest.organizationId), eq(organizationMemberships.userId, userId)));
  if (!membership) throw new ValidationFailed("the requester is no longer a member of this organization");
}

const preconditions = async (ctx: ActionContext) => {
  const alert = await alertOf(ctx);
  return alert ? alertPreconditions(alert) : null;
};

const updateAlert: ApprovalAction = {
  key: UPDATE_ACTION,
  resourceType: "LogsAlertConfiguration",
  level: "project",
  intentDisplay: displayIntent((name) => `Update logs alert "${name}"`),
  preconditions,
  apply: async (ctx) => {
    await assertRequesterMember(ctx);
    const alert = (await alertOf(ctx))!;
    const body = AlertUpdateSchema.safeParse(ctx.changeRequest.intent.full_request_data);
    if (!body.success) throw new ValidationFailed(body.error.issues[0]?.message ?? "invalid request data");
    const { writes, entries } = planUpdate(ctx.db, alert, body.data, Date.now());
    return { writes, entries, result: { resource_id: alert.id, resource_version: null } };
  },
};

const deleteAlert: ApprovalAction = {
  key: DELETE_ACTION,
  resourceType: "LogsAlertConfiguration",
  level: "project",
  intentDisplay: displayIntent((name) => `Delete logs alert "${name}"`),
  preconditions,
  apply: async (ctx) => {
    await assertRequesterMember(ctx);
    const alert = (await alertOf(ctx))!;
    return { ...(await planDelete(ctx.db, alert)), result: { resource_id: alert.id, resource_version: null } };
  },
};

export const alertsActions: ApprovalAction[] = [updateAlert, deleteAlert];
