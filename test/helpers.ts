import { env, exports } from "cloudflare:workers";
import { createDb } from "../src/db/client";
import { assertDocumented } from "./openapi-conformance";

export const BASE = "http://audit.test";

export interface CallOptions {
  method?: string;
  body?: unknown;
  key?: string | null;
  headers?: Record<string, string>;
  /** Raw body text, sent as is (malformed JSON tests). */
  raw?: string;
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** One HTTP call to the Worker's real fetch handler, as an API client would make it. */
export async function call<T = any>(path: string, options: CallOptions = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  let body: string | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers["content-type"] ??= "application/json";
  const response = await fetchWorker(new Request(`${BASE}${path}`, { method: options.method ?? (body ? "POST" : "GET"), headers, body }));
  return { status: response.status, body: parseBody(await response.text()) as T, headers: response.headers };
}

function parseBody(text: string): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text; // non-JSON bodies (docs page, downloads) stay text
  }
}

/**
 * The Worker's real fetch handler; the response must be one the served OpenAPI document describes
 * (status, content type, JSON body), or the test fails (test/openapi-conformance.ts).
 */
export async function fetchWorker(request: Request): Promise<Response> {
  const { method, url } = request;
  const response = await exports.default.fetch(request);
  const body = parseBody(await response.clone().text());
  await assertDocumented(method, url, response.status, response.headers.get("content-type"), body);
  return response;
}

export interface Tenant {
  key: string;
  userId: number;
  userUuid: string;
  organizationId: string;
  projectId: number;
  apiToken: string;
}

let counter = 0;

/** The first-run signup: an owner with a `*` key, an organization and a project. */
export async function signupFirstUser(overrides: Record<string, unknown> = {}): Promise<Tenant> {
  const res = await call("/api/signup/", {
    body: { email: `owner${++counter}@example.com`, first_name: "Olive", last_name: "Owner", ...overrides },
  });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${JSON.stringify(res.body)}`);
  return tenantFrom(res.body);
}

function tenantFrom(body: any): Tenant {
  return {
    key: body.personal_api_key.value,
    userId: body.user.id,
    userUuid: body.user.uuid,
    organizationId: body.organization.id,
    projectId: body.project?.id,
    apiToken: body.project?.api_token,
  };
}

/** Invites `email` at `level` into the tenant's organization and signs them up with the invite. */
export async function addMember(owner: Tenant, level = 1, email = `member${++counter}@example.com`): Promise<Tenant> {
  const invite = await call(`/api/organizations/${owner.organizationId}/invites/`, {
    key: owner.key,
    body: { target_email: email, level },
  });
  if (invite.status !== 201) throw new Error(`invite failed: ${invite.status} ${JSON.stringify(invite.body)}`);
  const res = await call("/api/signup/", { body: { email, first_name: "Mem", last_name: "Ber", invite_token: invite.body.invite_token } });
  if (res.status !== 201) throw new Error(`invited signup failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...tenantFrom(res.body), projectId: owner.projectId, apiToken: owner.apiToken };
}

/** A second, unrelated organization with its own owner (for cross-tenant checks). */
export async function otherOrganization(owner: Tenant): Promise<{ organizationId: string; projectId: number }> {
  const org = await call("/api/organizations/", { key: owner.key, body: { name: `Other ${++counter}` } });
  if (org.status !== 201) throw new Error(`org create failed: ${JSON.stringify(org.body)}`);
  return { organizationId: org.body.id, projectId: org.body.projects[0].id };
}

/** A key for `owner`'s user with the given scopes. */
export async function keyWithScopes(owner: Tenant, scopes: string[], extra: Record<string, unknown> = {}): Promise<string> {
  const res = await call("/api/personal_api_keys/", { key: owner.key, body: { label: `k${++counter}`, scopes, ...extra } });
  if (res.status !== 201) throw new Error(`key create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.value;
}

export const db = () => createDb(env.DB);

export async function activityRows(where: { scope?: string; activity?: string } = {}) {
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (where.scope) {
    conditions.push("scope = ?");
    params.push(where.scope);
  }
  if (where.activity) {
    conditions.push("activity = ?");
    params.push(where.activity);
  }
  const sql = `select * from activity_log ${conditions.length ? `where ${conditions.join(" and ")}` : ""} order by seq`;
  const { results } = await env.DB.prepare(sql)
    .bind(...params)
    .all<Record<string, any>>();
  return results.map((r): Record<string, any> => ({ ...r, detail: r.detail ? JSON.parse(r.detail) : null }));
}
