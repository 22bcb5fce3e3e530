import { type ApprovalAction, displayIntent, NO_WRITES, orNull, requesterAtLevel } from "../approvals";
import { MembershipLevel } from "../auth/levels";
import { isoRequired } from "../lib/time";
import { assertLevelChangeAllowed, findMember, planMemberLevelUpdate } from "./members.service";

// Approval actions this module owns: what an approved change request re-checks and writes, as the
// requester (`applied_by`), through the same plan functions as the handlers, so it records the same activity.

const updateMemberLevel: ApprovalAction = {
  key: "organization_member.update",
  resourceType: "OrganizationMembership",
  level: "organization",
  intentDisplay: displayIntent((email) => `Change the access level of ${email}`),
  preconditions: async ({ db, changeRequest }) => {
    const member = await orNull(findMember(db, changeRequest.organizationId, changeRequest.resourceId ?? ""));
    return member ? { level: member.membership.level, updated_at: isoRequired(member.membership.updatedAt) } : null;
  },
  apply: async ({ db, changeRequest }) => {
    const actor = await requesterAtLevel(db, changeRequest, MembershipLevel.admin);
    const target = await findMember(db, changeRequest.organizationId, changeRequest.resourceId ?? "");
    const newLevel = Number(changeRequest.intent.full_request_data.level);
    assertLevelChangeAllowed(actor.id, actor.level, target, newLevel);
    const plan = planMemberLevelUpdate(db, changeRequest.organizationId, target, newLevel) ?? NO_WRITES;
    return { ...plan, result: { resource_id: target.user.uuid, resource_version: null } };
  },
};

export const membersActions: ApprovalAction[] = [updateMemberLevel];
