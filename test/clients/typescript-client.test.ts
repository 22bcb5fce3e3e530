import { beforeAll, describe, expect, it } from "vitest";
import { createEdgeAuditClient, type EdgeAuditClient } from "../../clients/typescript";
import { addMember, BASE, fetchWorker, type Tenant } from "../helpers";

// The generated client (clients/typescript) drives the main flows against the Worker; the bodies
// below type-check against the generated types, so `npm run typecheck` fails when they drift.

const clientFor = (apiKey?: string) => createEdgeAuditClient({ baseUrl: BASE, apiKey, fetch: fetchWorker });

let owner: Tenant;
let client: EdgeAuditClient;

beforeAll(async () => {
  const { data, error } = await clientFor().POST("/api/signup", {
    body: { email: "client-owner@example.com", first_name: "Cleo", organization_name: "Client Co" },
  });
  if (!data) throw new Error(`signup failed: ${JSON.stringify(error)}`);
  owner = {
    key: data.personal_api_key.value,
    userId: data.user.id,
    userUuid: data.user.uuid,
    organizationId: data.organization.id,
    projectId: data.project!.id,
    apiToken: data.project!.api_token,
  };
  client = clientFor(owner.key);
});

describe("the TypeScript client", () => {
  it("records activity and lists it, system rows (user null) included", async () => {
    const params = { path: { project_id: owner.projectId } };
    const recorded = await client.POST("/api/projects/{project_id}/activity_log", {
      params,
      body: { scope: "FeatureFlag", activity: "updated", item_id: "42", detail: { name: "new-checkout" } },
    });
    expect(recorded.response.status).toBe(201);

    const { data } = await client.GET("/api/projects/{project_id}/activity_log", {
      params: { ...params, query: { scope: "FeatureFlag" } },
    });
    const row = data!.results[0]!;
    expect([row.scope, row.item_id, row.user?.email]).toEqual(["FeatureFlag", "42", "client-owner@example.com"]);
  });

  it("ingests logs with the project token and queries them", async () => {
    const now = Date.now();
    const ingested = await client.POST("/i/v1/logs", {
      headers: { authorization: `Bearer ${owner.apiToken}` },
      body: {
        resourceLogs: [
          {
            resource: { attributes: [{ key: "service.name", value: { stringValue: "checkout" } }] },
            scopeLogs: [{ logRecords: [{ timeUnixNano: `${now}000000`, severityText: "ERROR", body: { stringValue: "card declined" } }] }],
          },
        ],
      },
    });
    expect(ingested.response.status).toBe(200);

    const { data } = await client.POST("/api/projects/{project_id}/logs/query", {
      params: { path: { project_id: owner.projectId } },
      body: { query: { serviceNames: ["checkout"], dateRange: { date_from: "-1h" } } },
    });
    expect(data!.results.map((r) => [r.service_name, r.body])).toEqual([["checkout", "card declined"]]);
  });

  it("creates, reads, updates and deletes a logs alert; a gated change waits for an approver", async () => {
    const approver = await addMember(owner, 8);
    const project = { project_id: owner.projectId };
    const created = await client.POST("/api/projects/{project_id}/logs/alerts", {
      params: { path: project },
      body: { name: "Checkout errors", filters: { severityLevels: ["error"], serviceNames: ["checkout"] }, threshold_count: 5 },
    });
    const alert = created.data!;
    expect(alert).toMatchObject({ name: "Checkout errors", threshold_count: 5, state: "not_firing" });
    const one = { params: { path: { ...project, id: alert.id } } };

    const policy = await client.POST("/api/projects/{project_id}/approval_policies", {
      params: { path: project },
      body: { action_key: "logs_alert.update", approver_config: { users: [approver.userId], quorum: 1 } },
    });
    expect(policy.response.status).toBe(201);

    const renamed = await client.PATCH("/api/projects/{project_id}/logs/alerts/{id}", { ...one, body: { name: "Checkout" } });
    expect(renamed.data?.name).toBe("Checkout");
    const gated = await client.PATCH("/api/projects/{project_id}/logs/alerts/{id}", { ...one, body: { threshold_count: 50 } });
    expect(gated.response.status).toBe(409);
    const changeRequestId = (gated.error as { change_request_id: string }).change_request_id;

    const approved = await clientFor(approver.key).POST("/api/projects/{project_id}/change_requests/{id}/approve", {
      params: { path: { ...project, id: changeRequestId } },
    });
    expect(approved.response.status).toBe(200);
    const request = await client.GET("/api/projects/{project_id}/change_requests/{id}", {
      params: { path: { ...project, id: changeRequestId } },
    });
    expect([request.data?.state, request.data?.applied_by?.id]).toEqual(["applied", owner.userId]);
    expect((await client.GET("/api/projects/{project_id}/logs/alerts/{id}", one)).data?.threshold_count).toBe(50);

    const listed = await client.GET("/api/projects/{project_id}/logs/alerts", { params: { path: project } });
    expect(listed.data?.results.map((a) => a.id)).toEqual([alert.id]);
    expect((await client.DELETE("/api/projects/{project_id}/logs/alerts/{id}", one)).response.status).toBe(204);
  });
});
