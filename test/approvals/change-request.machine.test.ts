import { describe, expect, it } from "vitest";
import {
  appliedRecord,
  cancelRefusal,
  cancelVotes,
  completeRefusal,
  tally,
  validation,
  voteRefusal,
  withState,
} from "../../src/approvals/change-request.machine";
import type { ChangeRequestRecord, VoteRecord } from "../../src/approvals/model";

const record = (overrides: Partial<ChangeRequestRecord> = {}): ChangeRequestRecord =>
  ({
    id: "cr-1",
    organizationId: "org-1",
    teamId: 1,
    actionKey: "project.delete",
    actionVersion: 1,
    resourceType: "Project",
    resourceId: "1",
    intent: { name: "p", current_state: {}, gated_changes: {}, full_request_data: {}, preconditions: { updated_at: "a", level: 1 } },
    intentDisplay: { description: "Delete project", before: null, after: null },
    policySnapshot: {
      quorum: 2,
      users: [2, 3],
      roles: ["role-a"],
      allow_self_approve: false,
      conditions: {},
      bypass_org_membership_levels: [],
      bypass_roles: [],
    },
    validationStatus: "valid",
    validationErrors: null,
    validatedAt: null,
    state: "pending",
    createdById: 1,
    appliedById: null,
    createdAt: 0,
    updatedAt: 0,
    expiresAt: 1,
    appliedAt: null,
    applyError: "",
    resultData: null,
    ...overrides,
  }) as ChangeRequestRecord;

const vote = (userId: number, decision: VoteRecord["decision"] = "approved"): VoteRecord => ({
  id: `v${userId}`,
  userId,
  decision,
  reason: "",
  createdAt: 0,
});

describe("change request machine", () => {
  it("refuses votes in PostHog's order: missing, not pending, own request, not an approver, second vote", () => {
    expect(voteRefusal(null, [], { userId: 2, roleIds: [] }, "approve")?.error.status).toBe(404);
    expect(voteRefusal(record({ state: "applied" }), [], { userId: 2, roleIds: [] }, "approve")?.error.detail).toMatch(/Only pending/);
    expect(
      voteRefusal(record({ policySnapshot: { ...record().policySnapshot, users: [1] } }), [], { userId: 1, roleIds: [] }, "reject")?.error
        .detail,
    ).toBe("You cannot reject your own change request");
    expect(voteRefusal(record(), [], { userId: 9, roleIds: [] }, "approve")?.error.status).toBe(403);
    expect(voteRefusal(record(), [], { userId: 9, roleIds: ["role-a"] }, "approve")).toBeNull();
    expect(voteRefusal(record(), [vote(2)], { userId: 2, roleIds: [] }, "approve")?.error.code).toBe("already_voted");
  });

  it("reaches quorum on approvals only", () => {
    expect(tally(record(), [vote(2), vote(3, "rejected")])).toEqual({ approvals: 1, quorum: 2, reached: false });
    expect(tally(record(), [vote(2), vote(3)]).reached).toBe(true);
  });

  it("lets the requester cancel before any approval, or after one when the resource went stale", () => {
    expect(cancelRefusal(record(), [], 1)).toBeNull();
    expect(cancelRefusal(record(), [vote(2)], 1)?.error.status).toBe(403);
    expect(cancelRefusal(record({ validationStatus: "stale" }), [vote(2)], 1)).toBeNull();
    expect(cancelVotes([vote(1), vote(2)], vote(1, "rejected")).map((v) => [v.userId, v.decision])).toEqual([
      [2, "approved"],
      [1, "rejected"],
    ]);
  });

  it("completes only approved app requests, by their requester", () => {
    expect(completeRefusal(record({ state: "approved" }), 1, false)?.error.code).toBe("invalid_state");
    expect(completeRefusal(record({ state: "approved" }), 2, true)?.error.status).toBe(403);
    expect(completeRefusal(record(), 1, true)?.error.detail).toMatch(/Only approved/);
    expect(completeRefusal(record({ state: "approved" }), 1, true)).toBeNull();
  });

  it("records an apply as applied by the requester", () => {
    const applied = appliedRecord(withState(record(), "approved", 5), { resource_id: "1" }, 7);
    expect(applied).toMatchObject({ state: "applied", appliedById: 1, appliedAt: 7, updatedAt: 7, resultData: { resource_id: "1" } });
  });

  it("re-validates against the preconditions regardless of key order", () => {
    expect(validation({ level: 1, updated_at: "a" }, record()).status).toBe("valid");
    expect(validation({ level: 2, updated_at: "a" }, record())).toMatchObject({ status: "stale" });
    expect(validation(null, record()).errors).toEqual({ resource: "The resource no longer exists" });
  });
});
