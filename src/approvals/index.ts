// The public face of this domain: what other modules and the entry points may import.
export { approvalGateResponses } from "./approvals.schemas";
export { ChangeRequestObject } from "./change-request.object";
export { changeRequestsRouter } from "./change-requests.router";
export { approvalGate } from "./gate";
export { policiesActions } from "./policies.actions";
export { policiesRouter } from "./policies.router";
export {
  type ActionContext,
  type ApprovalAction,
  changeIntent,
  displayIntent,
  NO_WRITES,
  orNull,
  parsedIntent,
  registerApprovalActions,
  requesterAtLevel,
  updatedAtPrecondition,
  ValidationFailed,
} from "./registry";
export { revalidatePendingChangeRequests } from "./revalidation.job";
