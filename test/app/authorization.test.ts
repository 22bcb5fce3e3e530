import { beforeAll, describe, expect, it } from "vitest";
import { app } from "../../src/app";
import { ALL_SCOPES, hasScope } from "../../src/auth/scopes";
import { LEVEL_EXTENSION } from "../../src/http/openapi";
import { addMember, call, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";

// The authorization suite, generated from the route table: every operation of the served OpenAPI
// document is called as each kind of caller that must be refused. A new route is covered the moment
// it is registered; one without a scope or a level fails here.

/** The only operations without an API key, each for its reason. */
const UNAUTHENTICATED = [
  "/api/signup", // the first user, or an invite's token
  "/api/schema", // the OpenAPI document and its docs page
  "/i/v1/logs", // logs ingestion: the project's api_token, not a personal key
  "/api/activity_log/public_key", // the public key that verifies signed checkpoints, for anyone
  "/v1/logs", // logs ingestion at the OTLP default path, as /i/v1/logs
];
const isUnauthenticated = (path: string) => UNAUTHENTICATED.some((p) => path === p || path.startsWith(`${p}/`));

const LEVELS = ["user", "member", "admin", "owner"] as const;
const PLACEHOLDER_UUID = "00000000-0000-7000-8000-000000000000";

interface Operation {
  method: string;
  path: string;
  scope: string;
  level: string;
}

let owner: Tenant;
let member: Tenant;
let admin: Tenant;
let outsider: Tenant;
let projectScoped: string;
let operations: Operation[];
const keysWithout = new Map<string, string>();

beforeAll(async () => {
  owner = await signupFirstUser();
  member = await addMember(owner, 1);
  admin = await addMember(owner, 8);
  // A user of another organization only.
  const elsewhere = await otherOrganization(owner);
  outsider = await addMember({ ...owner, organizationId: elsewhere.organizationId, projectId: elsewhere.projectId }, 15);
  projectScoped = await keyWithScopes(owner, ["*"], { scoped_teams: [owner.projectId] });

  const schema = await call("/api/schema/");
  operations = [];
  for (const [path, item] of Object.entries<Record<string, any>>(schema.body.paths)) {
    for (const [method, operation] of Object.entries<any>(item)) {
      if (isUnauthenticated(path)) continue;
      const scopes: string[] = operation.security?.flatMap((s: Record<string, string[]>) => s.PersonalAPIKey ?? []) ?? [];
      operations.push({ method: method.toUpperCase(), path, scope: scopes.join(","), level: operation[LEVEL_EXTENSION] });
    }
  }
  // One key per distinct scope, holding a scope that does not satisfy it.
  for (const scope of new Set(operations.map((o) => o.scope))) {
    const other = ALL_SCOPES.find((s) => s !== "*" && !hasScope([s], scope));
    if (other) keysWithout.set(scope, await keyWithScopes(owner, [other]));
  }
});

/** The operation's path with the caller's organization and project, and placeholders for the rest. */
function concrete(op: Operation, tenant: Tenant = owner): string {
  return op.path
    .replace(/^\/api\/organizations\/\{id\}/, `/api/organizations/${tenant.organizationId}`)
    .replace("{organization_id}", tenant.organizationId)
    .replace("{project_id}", String(tenant.projectId))
    .replace("{activity_id}", "1")
    .replace(/\{[a-z_]+\}/g, PLACEHOLDER_UUID);
}

const names = (op: Operation) => `${op.method} ${op.path}`;
const send = (op: Operation, key: string | null) =>
  call(concrete(op), { method: op.method, key, body: ["POST", "PUT", "PATCH"].includes(op.method) ? {} : undefined });
const reachesOrganizationOrProject = (op: Operation) => /^\/api\/(projects|organizations)\/\{/.test(op.path);

describe("the route table", () => {
  it("gives every operation exactly one known scope and a level", () => {
    expect(operations.length).toBeGreaterThan(50);
    const unsecured = operations.filter((op) => !ALL_SCOPES.includes(op.scope) || op.scope === "*").map(names);
    expect(unsecured, "operations without a scope").toEqual([]);
    const unleveled = operations.filter((op) => !(LEVELS as readonly string[]).includes(op.level)).map(names);
    expect(unleveled, "operations without a membership level").toEqual([]);
  });

  it("checks membership on every route that names an organization or a project", () => {
    // `user` skips the membership check: only routes that reach no organization or project through their path may say it.
    const unchecked = operations.filter((op) => op.level === "user" && reachesOrganizationOrProject(op)).map(names);
    expect(unchecked).toEqual([]);
  });

  it("documents every route the app serves", () => {
    const documented = new Set(operations.map((op) => `${op.method} ${op.path}`).concat(UNAUTHENTICATED.map((p) => `* ${p}`)));
    const served = app.routes
      .filter((r) => r.method !== "ALL" && r.path.startsWith("/api/"))
      .map((r) => `${r.method} ${r.path.replace(/:([a-z_]+)/g, "{$1}")}`);
    const undocumented = served.filter((route) => !documented.has(route) && !isUnauthenticated(route.split(" ")[1]!));
    expect(undocumented).toEqual([]);
  });
});

// Each case calls every operation (about a hundred requests).
describe("every operation refuses", { timeout: 120_000 }, () => {
  it("a request without a key (401)", async () => {
    const wrong: string[] = [];
    for (const op of operations) {
      const res = await send(op, null);
      if (res.status !== 401 || res.body?.type !== "authentication_error") wrong.push(`${names(op)} -> ${res.status}`);
    }
    expect(wrong).toEqual([]);
  });

  it("a key without the operation's scope (403)", async () => {
    const wrong: string[] = [];
    for (const op of operations) {
      const res = await send(op, keysWithout.get(op.scope)!);
      if (res.status !== 403 || res.body?.detail !== `API key missing required scope '${op.scope}'`) {
        wrong.push(`${names(op)} -> ${res.status} ${res.body?.detail}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("another organization's key (404 or 403)", async () => {
    const wrong: string[] = [];
    for (const op of operations.filter(reachesOrganizationOrProject)) {
      const res = await send(op, outsider.key);
      if (res.status !== 404 && res.status !== 403) wrong.push(`${names(op)} -> ${res.status}`);
    }
    expect(wrong).toEqual([]);
  });

  it("a member on admin-only routes, an admin on owner-only routes (403)", async () => {
    const wrong: string[] = [];
    const guarded = operations.filter((op) => op.level === "admin" || op.level === "owner");
    expect(guarded.length).toBeGreaterThan(10);
    for (const op of guarded) {
      for (const who of op.level === "owner" ? [member, admin] : [member]) {
        const res = await send(op, who.key);
        if (res.status !== 403) wrong.push(`${names(op)} as ${who === member ? "member" : "admin"} -> ${res.status}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("a project-scoped key on organization routes (403)", async () => {
    const wrong: string[] = [];
    for (const op of operations.filter((o) => o.path.startsWith("/api/organizations"))) {
      const res = await send(op, projectScoped);
      if (res.status !== 403) wrong.push(`${names(op)} -> ${res.status}`);
    }
    expect(wrong).toEqual([]);
  });
});
