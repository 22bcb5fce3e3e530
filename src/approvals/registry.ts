import { and, eq } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { ActivityEntry } from "../audit/record";
import { MembershipLevel } from "../auth/levels";
import type { Db } from "../db/client";
import { type ChangeIntent, type FieldValues, type IntentDisplay, organizationMemberships } from "../db/schema";
import type { Env } from "../env";
import { ApiError } from "../lib/errors";
import { isoRequired } from "../lib/time";
import type { ChangeRequestRecord } from "./model";

/** What an approved change writes: the same statements and activity entries its handler commits. */
export interface ApplyPlan {
  writes: BatchItem<"sqlite">[];
  entries: ActivityEntry[];
  result: { resource_id: string | null; resource_version: string | number | null };
}

export interface ActionContext {
  db: Db;
  env: Env;
  changeRequest: ChangeRequestRecord;
  privateData: Record<string, unknown> | null;
}

/** The change is no longer valid (e.g. the requester lost the rights it needs): "Validation failed: ...". */
export class ValidationFailed extends Error {}

export interface ApprovalAction {
  key: string;
  /** Activity scope name of the resource, e.g. "Project". */
  resourceType: string;
  /** Organization-level actions have no project: their policies are always organization-wide. */
  level: "organization" | "project";
  intentDisplay(intent: ChangeIntent): IntentDisplay;
  /**
   * The resource's current preconditions (compared with the intent's), or null when the resource is
   * gone. Checked before every apply and by the cron's re-validation.
   */
  preconditions(ctx: ActionContext): Promise<Record<string, unknown> | null>;
  /** Re-validates the change (throws ValidationFailed or an ApiError) and returns its writes. */
  apply(ctx: ActionContext): Promise<ApplyPlan>;
}

const actions = new Map<string, ApprovalAction>();

/**
 * Makes action keys gateable: policies may name them and their handlers may call the gate. Each
 * module that owns a resource declares its actions (`*.actions.ts`); the entry point registers
 * them all at start-up (`src/approval-actions.ts`).
 */
export function registerApprovalActions(list: ApprovalAction[]): void {
  for (const action of list) actions.set(action.key, action);
}

export const getApprovalAction = (key: string) => actions.get(key);
export const registeredActionKeys = () => [...actions.keys()].sort();

/** Apps' own action keys: no built-in apply; the app applies and reports back through `complete/`. */
export const APP_ACTION_KEY = /^app\.[a-z0-9_]+(?:[.:-][a-z0-9_]+)*$/;
export const isAppActionKey = (key: string) => APP_ACTION_KEY.test(key) && key.length <= 128;

const fieldValues = (values: Record<string, unknown>): Record<string, FieldValues> =>
  Object.fromEntries(Object.entries(values).map(([field, value]) => [field, [{ path: field, value: value ?? null }]]));

/** The intent of a field-level change, in PostHog's shape (`{field: [{path, value}]}` per side). */
export function changeIntent(input: {
  name: string;
  before: Record<string, unknown>;
  after: Record<string, unknown>;
  request: Record<string, unknown>;
  preconditions: Record<string, unknown>;
  method: "POST" | "PATCH" | "PUT" | "DELETE";
}): ChangeIntent {
  return {
    name: input.name,
    current_state: fieldValues(input.before),
    gated_changes: fieldValues(input.after),
    full_request_data: input.request,
    preconditions: input.preconditions,
    http_method: input.method,
  };
}

const flatten = (state: Record<string, FieldValues>) => {
  const entries = Object.entries(state);
  return entries.length ? Object.fromEntries(entries.map(([field, values]) => [field, values[0]?.value ?? null])) : null;
};

/** `{description, before, after}` for an intent built by `changeIntent`. */
export const displayIntent =
  (describe: (name: string) => string) =>
  (intent: ChangeIntent): IntentDisplay => ({
    description: describe(String(intent.name ?? "")),
    before: flatten(intent.current_state),
    after: flatten(intent.gated_changes),
  });

/** Nothing to write (the change turned out to be a no-op by the time it was applied). */
export const NO_WRITES: Pick<ApplyPlan, "writes" | "entries"> = { writes: [], entries: [] };

/** The requester's id, still holding at least `minLevel` in the request's organization. */
export async function requesterAtLevel(
  db: Db,
  changeRequest: ChangeRequestRecord,
  minLevel: number,
): Promise<{ id: number; level: number }> {
  const id = changeRequest.createdById;
  if (id === null) throw new ValidationFailed("the requester no longer exists");
  const [membership] = await db
    .select({ level: organizationMemberships.level })
    .from(organizationMemberships)
    .where(and(eq(organizationMemberships.organizationId, changeRequest.organizationId), eq(organizationMemberships.userId, id)));
  if (!membership || membership.level < minLevel) {
    const role = minLevel >= MembershipLevel.owner ? "an owner" : minLevel >= MembershipLevel.admin ? "an admin" : "a member";
    throw new ValidationFailed(`the requester is no longer ${role} of this organization`);
  }
  return { id, level: membership.level };
}

/** The stored request body, parsed again with the handler's schema; a mismatch fails the apply. */
export function parsedIntent<T>(result: { success: true; data: T } | { success: false; error: { issues: { message: string }[] } }): T {
  if (!result.success) throw new ValidationFailed(result.error.issues[0]?.message ?? "invalid request data");
  return result.data;
}

/** A lookup that answers 404 means the resource is gone. */
export async function orNull<T>(lookup: Promise<T>): Promise<T | null> {
  try {
    return await lookup;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

/** The `updated_at` precondition of a row (null: the resource is gone). */
export const updatedAtPrecondition = (row: { updatedAt: Date } | null) => (row ? { updated_at: isoRequired(row.updatedAt) } : null);
