import { beforeAll, describe, expect, it } from "vitest";
import { call } from "../helpers";

// What code generators rely on in the served document (the bodies themselves are checked against it
// on every test response: test/openapi-conformance.ts).

let document: any;
const operations: { method: string; path: string; op: any }[] = [];

beforeAll(async () => {
  document = (await call("/api/schema/")).body;
  for (const [path, item] of Object.entries<any>(document.paths)) {
    for (const [method, op] of Object.entries<any>(item)) operations.push({ method, path, op });
  }
});

function walk(node: unknown, visit: (node: Record<string, any>, at: string) => void, at = "#") {
  if (Array.isArray(node)) {
    node.forEach((child, i) => {
      walk(child, visit, `${at}/${i}`);
    });
  } else if (node && typeof node === "object") {
    visit(node as Record<string, any>, at);
    for (const [key, child] of Object.entries(node)) walk(child, visit, `${at}/${key}`);
  }
}

describe("the OpenAPI document", () => {
  it("gives every operation a unique snake_case operationId, a declared tag and a summary", () => {
    expect(operations.length).toBeGreaterThan(90);
    const missing = operations.filter(({ op }) => !op.operationId).map(({ method, path }) => `${method} ${path}`);
    expect(missing).toEqual([]);
    const ids = operations.map(({ op }) => op.operationId as string);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
    expect(ids.filter((id) => !/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/.test(id))).toEqual([]);
    const declared = new Set(document.tags.map((t: any) => t.name));
    expect(operations.filter(({ op }) => op.tags?.length !== 1 || !declared.has(op.tags[0]) || !op.summary).map((o) => o.path)).toEqual([]);
  });

  it("names operations as PostHog does", () => {
    const id = (method: string, path: string) => operations.find((o) => o.method === method && o.path === path)?.op.operationId;
    expect(id("get", "/api/projects/{project_id}/activity_log")).toBe("activity_log_list");
    expect(id("post", "/api/projects/{project_id}/approval_policies")).toBe("approval_policies_create");
    expect(id("patch", "/api/projects/{project_id}/logs/alerts/{id}")).toBe("logs_alerts_partial_update");
    expect(id("post", "/api/projects/{project_id}/change_requests/{id}/approve")).toBe("change_requests_approve_create");
    expect(id("get", "/api/organizations/{id}/destinations")).toBe("organizations_destinations_list");
  });

  it("has a license, servers and a described tag for each group", () => {
    expect(document.info.license).toEqual({ name: "MIT", identifier: "MIT" });
    expect(document.servers).toEqual([{ url: "http://audit.test", description: "This server" }]);
    expect(document.tags.every((t: any) => t.description)).toBe(true);
  });

  it("writes nullable references so that null validates: anyOf [$ref, null], never allOf", () => {
    const broken: string[] = [];
    walk(document, (node, at) => {
      if (
        Array.isArray(node.allOf) &&
        node.allOf.some((s: any) => s.$ref) &&
        node.allOf.some((s: any) => [s.type].flat().includes("null"))
      ) {
        broken.push(at);
      }
    });
    expect(broken).toEqual([]);
    const user = document.components.schemas.ActivityLog.properties.user;
    expect(user).toEqual({ anyOf: [{ $ref: "#/components/schemas/UserBasic" }, { type: "null" }] });
    expect(document.components.schemas.ChangeRequest.properties.applied_by.anyOf).toContainEqual({ type: "null" });
  });

  it("keeps request fields with a default optional", () => {
    const approverConfig = document.components.schemas.ApproverConfig;
    expect(approverConfig.properties.roles.default).toEqual([]);
    expect(approverConfig.required).toEqual(["quorum"]);
  });
});
