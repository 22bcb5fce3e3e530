import { createRoute } from "@hono/zod-openapi";
import { errorResponses, json, jsonBody, secured } from "../http/openapi";
import { paginated } from "../lib/pagination";
import { ProjectIdParams, ProjectItemParams } from "../lib/path-params";
import {
  AppChangeRequestCreateSchema,
  ApproveBodySchema,
  approvalGateResponses,
  ChangeRequestListQuery,
  ChangeRequestSchema,
  CompleteBodySchema,
  DecisionResponseSchema,
  GateNotRequiredSchema,
  RejectBodySchema,
} from "./approvals.schemas";

export const tags = ["approvals"];
export const base = "/api/projects/{project_id}/change_requests";

export const listChangeRequests = createRoute({
  method: "get",
  path: base,
  operationId: "change_requests_list",
  tags,
  summary: "List change requests (the project's and its organization's organization-level ones), newest first",
  ...secured("approvals:read", "member", { oneTrip: true }),
  request: { params: ProjectIdParams, query: ChangeRequestListQuery },
  responses: { 200: json(paginated(ChangeRequestSchema), "Change requests"), ...errorResponses },
});
export const createAppChangeRequest = createRoute({
  method: "post",
  path: base,
  operationId: "change_requests_create",
  tags,
  summary: "Ask for sign-off on an app's own change (action keys starting with `app.`)",
  description:
    "Runs the approval gate for the app's action key. 201: a change request was created; when it is approved " +
    "the app applies the change and reports back with `complete/`. 200: no approval is needed, go ahead. " +
    "409 change_request_pending: one is already open for this resource.",
  ...secured("approvals:write", "member"),
  request: { params: ProjectIdParams, body: jsonBody(AppChangeRequestCreateSchema) },
  responses: {
    200: json(GateNotRequiredSchema, "No approval needed"),
    201: json(ChangeRequestSchema, "Change request created"),
    ...errorResponses,
    ...approvalGateResponses,
  },
});
export const getChangeRequest = createRoute({
  method: "get",
  path: `${base}/{id}`,
  operationId: "change_requests_retrieve",
  tags,
  summary: "Retrieve a change request",
  ...secured("approvals:read", "member", { oneTrip: true }),
  request: { params: ProjectItemParams },
  responses: { 200: json(ChangeRequestSchema, "Change request"), ...errorResponses },
});
export const approveChangeRequest = createRoute({
  method: "post",
  path: `${base}/{id}/approve`,
  operationId: "change_requests_approve_create",
  tags,
  summary: "Approve a change request; at quorum the change is applied at once",
  ...secured("approvals:write", "member"),
  request: { params: ProjectItemParams, body: { required: false, content: { "application/json": { schema: ApproveBodySchema } } } },
  responses: { 200: json(DecisionResponseSchema, "Vote recorded"), ...errorResponses },
});
export const rejectChangeRequest = createRoute({
  method: "post",
  path: `${base}/{id}/reject`,
  operationId: "change_requests_reject_create",
  tags,
  summary: "Reject a change request (a reason is required)",
  ...secured("approvals:write", "member"),
  request: { params: ProjectItemParams, body: jsonBody(RejectBodySchema) },
  responses: { 200: json(DecisionResponseSchema, "Rejected"), ...errorResponses },
});
export const cancelChangeRequest = createRoute({
  method: "post",
  path: `${base}/{id}/cancel`,
  operationId: "change_requests_cancel_create",
  tags,
  summary: "Cancel your own pending change request",
  ...secured("approvals:write", "member"),
  request: { params: ProjectItemParams, body: { required: false, content: { "application/json": { schema: ApproveBodySchema } } } },
  responses: { 200: json(DecisionResponseSchema, "Canceled"), ...errorResponses },
});
export const completeChangeRequest = createRoute({
  method: "post",
  path: `${base}/{id}/complete`,
  operationId: "change_requests_complete_create",
  tags,
  summary: "Report the outcome of applying an approved app change request (its requester)",
  ...secured("approvals:write", "member"),
  request: { params: ProjectItemParams, body: jsonBody(CompleteBodySchema) },
  responses: { 200: json(DecisionResponseSchema, "Applied or failed"), ...errorResponses },
});
