import { env } from "cloudflare:workers";
import { changeRequestStub } from "../../src/approvals/gate";
import { call, type Tenant } from "../helpers";

export const policiesPath = (projectId: number) => `/api/environments/${projectId}/approval_policies/`;
export const changeRequestsPath = (projectId: number) => `/api/projects/${projectId}/change_requests/`;

/** Creates a policy as `admin` (201 expected) and returns it. */
export async function createPolicy(admin: Tenant, body: Record<string, unknown>, projectId = admin.projectId) {
  const res = await call(policiesPath(projectId), { key: admin.key, body });
  if (res.status !== 201) throw new Error(`policy create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function disablePolicy(admin: Tenant, policyId: string, projectId = admin.projectId) {
  // Tests guard approval_policy.* only where they say so, so this PATCH is never gated.
  const res = await call(`${policiesPath(projectId)}${policyId}/`, { key: admin.key, method: "PATCH", body: { enabled: false } });
  if (res.status !== 200) throw new Error(`policy disable failed: ${res.status} ${JSON.stringify(res.body)}`);
}

export function decide(who: Tenant, changeRequestId: string, action: "approve" | "reject" | "cancel" | "complete", body?: unknown) {
  return call(`${changeRequestsPath(who.projectId)}${changeRequestId}/${action}/`, { key: who.key, method: "POST", body });
}

export function getChangeRequest(who: Tenant, changeRequestId: string) {
  return call(`${changeRequestsPath(who.projectId)}${changeRequestId}/`, { key: who.key });
}

/** Runs the object's own method, as the cron and tests may. */
export const objectOf = (id: string) => changeRequestStub(env, id);

/** The change request mirror row as stored. */
export async function mirrorRow(id: string) {
  return env.DB.prepare("select * from change_requests where id = ?").bind(id).first<Record<string, any>>();
}
