import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { activityRows, call, signupFirstUser, type Tenant } from "../helpers";

let owner: Tenant;
beforeAll(async () => {
  owner = await signupFirstUser();
});

describe("API conventions", () => {
  it("accepts every route with or without its trailing slash", async () => {
    expect((await call("/api/users/@me", { key: owner.key })).status).toBe(200);
    expect((await call("/api/users/@me/", { key: owner.key })).status).toBe(200);
    expect((await call(`/api/organizations/${owner.organizationId}`, { key: owner.key })).status).toBe(200);
  });

  it("answers unknown routes with the not_found envelope", async () => {
    const res = await call("/api/nothing-here/", { key: owner.key });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      type: "invalid_request",
      code: "not_found",
      detail: "Not found.",
      attr: null,
      request_id: expect.any(String),
    });
  });

  it("answers malformed JSON on an authenticated route with a 400", async () => {
    const res = await call("/api/organizations/", { key: owner.key, raw: '{"name": ' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ type: "validation_error", code: "parse_error" });
  });

  it("names nested fields in attr", async () => {
    const res = await call("/api/personal_api_keys/", { key: owner.key, body: { label: "x", scopes: ["user:read", 3] } });
    expect(res.body).toMatchObject({ type: "validation_error", attr: "scopes__1" });
  });

  it("stores X-PostHog-Client (at most 32 characters) and the client IP on activity rows", async () => {
    await call(`/api/organizations/${owner.organizationId}/`, {
      key: owner.key,
      method: "PATCH",
      body: { name: "Client test" },
      headers: { "x-posthog-client": "mcp".padEnd(40, "x"), "cf-connecting-ip": "203.0.113.9" },
    });
    const [row] = await activityRows({ scope: "Organization", activity: "updated" });
    expect(row?.client).toBe("mcp".padEnd(32, "x"));
    expect(row?.ip_address).toBe("203.0.113.9");
    expect(row?.created_at).toEqual(expect.any(Number));
  });

  it("never applies a write whose activity row cannot be stored (one D1 batch)", async () => {
    await env.DB.prepare(
      "CREATE TRIGGER reject_activity BEFORE INSERT ON activity_log BEGIN SELECT RAISE(ABORT, 'audit unavailable'); END",
    ).run();
    try {
      const res = await call(`/api/organizations/${owner.organizationId}/`, {
        key: owner.key,
        method: "PATCH",
        body: { name: "Must not stick" },
      });
      expect(res.status).toBe(500);
      expect(res.body).toMatchObject({ type: "server_error" });
      const created = await call("/api/projects/", { key: owner.key, body: { name: "Ghost" } });
      expect(created.status).toBe(500);
    } finally {
      await env.DB.prepare("DROP TRIGGER reject_activity").run();
    }
    const org = await call(`/api/organizations/${owner.organizationId}/`, { key: owner.key });
    expect(org.body.name).not.toBe("Must not stick");
    const projects = await call("/api/projects/", { key: owner.key });
    expect(projects.body.results.map((p: any) => p.name)).not.toContain("Ghost");
  });

  it("reports server time and D1 round trips in a Server-Timing header", async () => {
    const res = await call("/healthz");
    expect(res.status).toBe(200);
    // `db`: the request's D1 round trips and the time spent waiting on them; `app`: the whole request.
    expect(res.headers.get("server-timing")).toMatch(/^db;dur=\d+;desc="1 round trip",app;dur=\d+(\.\d)?$/);
    const listed = await call(`/api/projects/${owner.projectId}/activity_log/`, { key: owner.key });
    const entries = Object.fromEntries(
      listed.headers
        .get("server-timing")!
        .split(",")
        .map((entry) => {
          const [name, ...rest] = entry.trim().split(";");
          return [name, Object.fromEntries(rest.map((p) => p.split("=") as [string, string]))];
        }),
    );
    expect(Object.keys(entries).sort()).toEqual(["app", "db"]);
    expect(entries.db.desc).toMatch(/^"\d+ round trips?"$/);
    expect(Number(entries.db.dur)).toBeLessThanOrEqual(Number(entries.app.dur));
  });

  it("gives every response a request id, the caller's own when it sends one", async () => {
    const res = await call("/healthz");
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const notFound = await call("/nowhere", { headers: { "x-request-id": "ci-run-42" } });
    expect(notFound.status).toBe(404);
    expect(notFound.headers.get("x-request-id")).toBe("ci-run-42");
    const ray = await call("/healthz", { headers: { "cf-ray": "8f1c2d3e4a5b6c7d-AMS" } });
    expect(ray.headers.get("x-request-id")).toBe("8f1c2d3e4a5b6c7d-AMS");
  });
});

describe("OpenAPI", () => {
  it("serves an OpenAPI 3.1 document with the bearer scheme and the error component", async () => {
    const res = await call("/api/schema/");
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe("3.1.0");
    expect(res.body.components.securitySchemes.PersonalAPIKey).toMatchObject({ type: "http", scheme: "bearer" });
    expect(res.body.components.schemas.Error.properties).toHaveProperty("attr");
    for (const path of [
      "/api/signup",
      "/api/users/@me",
      "/api/personal_api_keys/{key_id}",
      "/api/organizations/{id}",
      "/api/organizations/{id}/members/{user_uuid}",
      "/api/organizations/{id}/invites",
      "/api/organizations/{id}/roles/{role_id}/role_memberships",
      "/api/projects/{project_id}/reset_token",
    ]) {
      expect(res.body.paths, path).toHaveProperty([path]);
    }
  });

  it("serves a Scalar reference page over /api/schema/ that loads nothing from another origin", async () => {
    const res = await call("/api/schema/docs/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(res.body).toContain('<script src="/api/schema/docs/scalar.js"></script>');
    expect(res.body).toContain('"url":"/api/schema/"');
    expect(res.body).toContain('"withDefaultFonts":false');
    expect(res.body).not.toMatch(/(src|href)="https?:/);
    const bundle = await call("/api/schema/docs/scalar.js");
    expect([bundle.status, bundle.headers.get("content-type")]).toEqual([200, "text/javascript; charset=utf-8"]);
  });
});
