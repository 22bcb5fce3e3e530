import { type ChangeRequestRecord, canCancel, isApprover, type VoteRecord, type Voter } from "./model";

// The change request's state machine as pure functions: pending -> approved -> applied | failed;
// pending -> rejected | expired. The object (change-request.object.ts) loads, serialises and
// commits; everything it decides comes from here.

export interface StepError {
  status: 400 | 403 | 404;
  code: string;
  detail: string;
}

export const fail = (status: StepError["status"], code: string, detail: string) => ({
  ok: false as const,
  error: { status, code, detail },
});
const denied = (detail: string) => fail(403, "permission_denied", detail);
export type Refusal = ReturnType<typeof fail>;

/** Preconditions compared regardless of key order. */
const canonical = (value: Record<string, unknown>) =>
  JSON.stringify(Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b))));

export const preconditionsMatch = (current: Record<string, unknown>, expected: Record<string, unknown>) =>
  canonical(current) === canonical(expected);

/** Checks shared by approve and reject (PostHog's CanApprove), then one vote per user. */
export function voteRefusal(
  record: ChangeRequestRecord | null,
  votes: VoteRecord[],
  voter: Voter,
  verb: "approve" | "reject",
): Refusal | null {
  if (!record) return fail(404, "not_found", "Not found.");
  if (record.state !== "pending") return denied(`Only pending change requests can be ${verb}d`);
  if (record.createdById === voter.userId && !record.policySnapshot.allow_self_approve) {
    return denied(`You cannot ${verb} your own change request`);
  }
  if (!isApprover(record, voter)) return denied("You are not in the approver set for this change request");
  if (votes.some((v) => v.userId === voter.userId)) return fail(400, "already_voted", "You have already voted on this change request.");
  return null;
}

export function cancelRefusal(record: ChangeRequestRecord | null, votes: VoteRecord[], userId: number): Refusal | null {
  if (!record) return fail(404, "not_found", "Not found.");
  if (!canCancel(record, votes, userId)) return denied("You cannot cancel this change request");
  return null;
}

/** Only the requesting app reports the outcome of its own approved change. */
export function completeRefusal(record: ChangeRequestRecord | null, userId: number, isAppAction: boolean): Refusal | null {
  if (!record) return fail(404, "not_found", "Not found.");
  if (!isAppAction)
    return fail(400, "invalid_state", "Only app change requests (action keys starting with app.) are completed by their app.");
  if (record.createdById !== userId) return denied("Only the requester can complete this change request.");
  if (record.state !== "approved") return fail(400, "invalid_state", "Only approved change requests can be completed.");
  return null;
}

/** Approvals so far against the policy's quorum. */
export function tally(record: ChangeRequestRecord, votes: VoteRecord[]) {
  const approvals = votes.filter((v) => v.decision === "approved").length;
  const { quorum } = record.policySnapshot;
  return { approvals, quorum, reached: approvals >= quorum };
}

export const withState = (record: ChangeRequestRecord, state: ChangeRequestRecord["state"], now: number): ChangeRequestRecord => ({
  ...record,
  state,
  updatedAt: now,
});

export const appliedRecord = (approved: ChangeRequestRecord, resultData: Record<string, unknown>, now: number): ChangeRequestRecord => ({
  ...approved,
  state: "applied",
  appliedAt: now,
  appliedById: approved.createdById,
  updatedAt: now,
  resultData,
});

export const failedRecord = (record: ChangeRequestRecord, applyError: string): ChangeRequestRecord => ({
  ...record,
  state: "failed",
  applyError,
});

/** The requester's cancel is recorded as their rejection, replacing a vote they may have cast. */
export const cancelVotes = (votes: VoteRecord[], vote: VoteRecord) => [...votes.filter((v) => v.userId !== vote.userId), vote];

/** The cron's re-validation outcome: valid, stale (modified since) or invalid (the resource is gone). */
export function validation(current: Record<string, unknown> | null, record: ChangeRequestRecord) {
  const status: ChangeRequestRecord["validationStatus"] =
    current === null ? "invalid" : preconditionsMatch(current, record.intent.preconditions) ? "valid" : "stale";
  const errors =
    status === "invalid"
      ? { resource: "The resource no longer exists" }
      : status === "stale"
        ? { staleness: "Resource has been modified since this change request was created" }
        : null;
  return { status, errors };
}
