import { createRoute } from "@hono/zod-openapi";
import { errorResponses, json, jsonBody, secured } from "../http/openapi";
import { paginated } from "../lib/pagination";
import { ProjectIdParams, ProjectItemParams } from "../lib/path-params";
import { approvalGateResponses, PolicyCreateSchema, PolicyListQuery, PolicyPatchSchema, PolicySchema } from "./approvals.schemas";

export const tags = ["approvals"];
export const base = "/api/projects/{project_id}/approval_policies";

export const listPolicies = createRoute({
  method: "get",
  path: base,
  operationId: "approval_policies_list",
  tags,
  summary: "List approval policies (the project's and the organization-wide ones)",
  ...secured("approvals:read", "member"),
  request: { params: ProjectIdParams, query: PolicyListQuery },
  responses: { 200: json(paginated(PolicySchema), "Approval policies"), ...errorResponses },
});
export const createPolicy = createRoute({
  method: "post",
  path: base,
  operationId: "approval_policies_create",
  tags,
  summary: "Create an approval policy (organization admins)",
  ...secured("approvals:write", "admin"),
  request: { params: ProjectIdParams, body: jsonBody(PolicyCreateSchema) },
  responses: { 201: json(PolicySchema, "Created"), ...errorResponses },
});
export const getPolicy = createRoute({
  method: "get",
  path: `${base}/{id}`,
  operationId: "approval_policies_retrieve",
  tags,
  summary: "Retrieve an approval policy",
  ...secured("approvals:read", "member"),
  request: { params: ProjectItemParams },
  responses: { 200: json(PolicySchema, "Approval policy"), ...errorResponses },
});
export const replacePolicy = createRoute({
  method: "put",
  path: `${base}/{id}`,
  operationId: "approval_policies_update",
  tags,
  summary: "Update an approval policy (organization admins; gated by approval_policy.update)",
  ...secured("approvals:write", "admin"),
  request: { params: ProjectItemParams, body: jsonBody(PolicyCreateSchema) },
  responses: { 200: json(PolicySchema, "Updated"), ...errorResponses, ...approvalGateResponses },
});
export const patchPolicy = createRoute({
  method: "patch",
  path: `${base}/{id}`,
  operationId: "approval_policies_partial_update",
  tags,
  summary: "Partially update an approval policy (organization admins; gated by approval_policy.update)",
  ...secured("approvals:write", "admin"),
  request: { params: ProjectItemParams, body: jsonBody(PolicyPatchSchema) },
  responses: { 200: json(PolicySchema, "Updated"), ...errorResponses, ...approvalGateResponses },
});
export const deletePolicy = createRoute({
  method: "delete",
  path: `${base}/{id}`,
  operationId: "approval_policies_destroy",
  tags,
  summary: "Delete an approval policy (organization admins; gated by approval_policy.delete)",
  ...secured("approvals:write", "admin"),
  request: { params: ProjectItemParams },
  responses: { 204: { description: "Deleted" }, ...errorResponses, ...approvalGateResponses },
});
