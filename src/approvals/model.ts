import type { changeRequests, changeRequestVotes } from "../db/schema";

export type ChangeRequestRow = typeof changeRequests.$inferSelect;
export type VoteRow = typeof changeRequestVotes.$inferSelect;

/** A change request as its Durable Object holds it: plain JSON, timestamps in epoch milliseconds. */
export interface ChangeRequestRecord {
  id: string;
  organizationId: string;
  teamId: number | null;
  actionKey: string;
  actionVersion: number;
  resourceType: string;
  resourceId: string | null;
  intent: ChangeRequestRow["intent"];
  intentDisplay: ChangeRequestRow["intentDisplay"];
  policySnapshot: ChangeRequestRow["policySnapshot"];
  validationStatus: ChangeRequestRow["validationStatus"];
  validationErrors: Record<string, unknown> | null;
  validatedAt: number | null;
  state: ChangeRequestRow["state"];
  createdById: number | null;
  appliedById: number | null;
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
  appliedAt: number | null;
  applyError: string;
  resultData: Record<string, unknown> | null;
}

export interface VoteRecord {
  id: string;
  userId: number | null;
  decision: "approved" | "rejected";
  reason: string;
  createdAt: number;
}

/** A change request with its votes: what the object returns and what the serializer renders. */
export interface ChangeRequestSnapshot {
  record: ChangeRequestRecord;
  votes: VoteRecord[];
}

export const OPEN_STATES: readonly ChangeRequestRecord["state"][] = ["pending", "approved"];

const ms = (d: Date | null) => (d ? d.getTime() : null);
const date = (n: number | null) => (n === null ? null : new Date(n));

export function recordFromRow(row: ChangeRequestRow): ChangeRequestRecord {
  return {
    id: row.id,
    organizationId: row.organizationId,
    teamId: row.teamId,
    actionKey: row.actionKey,
    actionVersion: row.actionVersion,
    resourceType: row.resourceType,
    resourceId: row.resourceId,
    intent: row.intent,
    intentDisplay: row.intentDisplay,
    policySnapshot: row.policySnapshot,
    validationStatus: row.validationStatus,
    validationErrors: row.validationErrors,
    validatedAt: ms(row.validatedAt),
    state: row.state,
    createdById: row.createdById,
    appliedById: row.appliedById,
    createdAt: row.createdAt.getTime(),
    updatedAt: row.updatedAt.getTime(),
    expiresAt: row.expiresAt.getTime(),
    appliedAt: ms(row.appliedAt),
    applyError: row.applyError,
    resultData: row.resultData,
  };
}

/** The mirror row's columns for a record (everything but the private data). */
export function rowValues(record: ChangeRequestRecord) {
  return {
    ...record,
    validatedAt: date(record.validatedAt),
    createdAt: new Date(record.createdAt),
    updatedAt: new Date(record.updatedAt),
    expiresAt: new Date(record.expiresAt),
    appliedAt: date(record.appliedAt),
  };
}

export function voteFromRow(row: VoteRow): VoteRecord {
  return { id: row.id, userId: row.userId, decision: row.decision, reason: row.reason, createdAt: row.createdAt.getTime() };
}

/** The caller as the approval rules see them: their user id and their role ids in the organization. */
export interface Voter {
  userId: number;
  roleIds: string[];
}

/** In the snapshot's approver set: a named user or a holder of a named role. */
export function isApprover(record: ChangeRequestRecord, voter: Voter): boolean {
  const { users, roles } = record.policySnapshot;
  return users.includes(voter.userId) || voter.roleIds.some((role) => roles.includes(role));
}

/** PostHog's can_approve: an approver who is not the requester (unless self-approval is allowed). */
export function canApprove(record: ChangeRequestRecord, voter: Voter): boolean {
  if (record.createdById === voter.userId && !record.policySnapshot.allow_self_approve) return false;
  return isApprover(record, voter);
}

/** The requester, while pending, and only before any approval (unless the resource went stale). */
export function canCancel(record: ChangeRequestRecord, votes: VoteRecord[], userId: number): boolean {
  if (record.state !== "pending" || record.createdById !== userId) return false;
  return record.validationStatus === "stale" || !votes.some((v) => v.decision === "approved");
}
