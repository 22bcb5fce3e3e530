import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { activityRows, addMember, call, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";

let owner: Tenant;
let member: Tenant;
const tokens = () => `/api/organizations/${owner.organizationId}/viewer_tokens/`;

beforeAll(async () => {
  owner = await signupFirstUser();
  member = await addMember(owner, 1);
});

describe("viewer tokens", () => {
  it("mints a read-only link that reads the organization's activity, recorded in the activity log", async () => {
    const res = await call(tokens(), { key: owner.key, body: { label: "Audit review", expires_in_minutes: 30 } });
    expect(res.status).toBe(201);
    expect(res.body.token).toMatch(/^phv_/);
    expect(res.body.url).toBe(`http://audit.test/app/#token=${res.body.token}`);
    expect(res.body.scopes.every((s: string) => s.endsWith(":read"))).toBe(true);
    const expiresIn = Date.parse(res.body.expires_at) - Date.now();
    expect(expiresIn).toBeGreaterThan(29 * 60_000);
    expect(expiresIn).toBeLessThanOrEqual(30 * 60_000);

    expect((await call(`/api/projects/${owner.projectId}/advanced_activity_logs/`, { key: res.body.token })).status).toBe(200);
    const created = await activityRows({ scope: "ViewerToken", activity: "created" });
    expect(created.some((row) => row.item_id === res.body.id)).toBe(true);
  });

  it("cannot write, nor reach another organization, nor appear among the admin's personal keys", async () => {
    const { body } = await call(tokens(), { key: owner.key, body: {} });
    const write = await call(`/api/projects/${owner.projectId}/`, { key: body.token, method: "PATCH", body: { name: "x" } });
    expect(write.status).toBe(403);
    const other = await otherOrganization(owner);
    expect((await call(`/api/projects/${other.projectId}/activity_log/`, { key: body.token })).status).toBe(403);
    const keys = await call("/api/personal_api_keys/", { key: owner.key });
    expect(keys.body.results.some((k: { id: string }) => k.id === body.id)).toBe(false);
    expect((await call(`/api/personal_api_keys/${body.id}/`, { key: owner.key })).status).toBe(404);
  });

  it("stops working once expired or revoked, and the revocation is recorded", async () => {
    const { body } = await call(tokens(), { key: owner.key, body: {} });
    const read = () => call(`/api/projects/${owner.projectId}/activity_log/`, { key: body.token });
    expect((await read()).status).toBe(200);
    await env.DB.prepare("UPDATE personal_api_keys SET expires_at = ?1 WHERE id = ?2")
      .bind(Date.now() - 1, body.id)
      .run();
    expect((await read()).status).toBe(401);
    expect((await call(tokens(), { key: owner.key })).body.results.some((t: { id: string }) => t.id === body.id)).toBe(false);

    const second = (await call(tokens(), { key: owner.key, body: {} })).body;
    expect((await call(`${tokens()}${second.id}/`, { key: owner.key, method: "DELETE" })).status).toBe(204);
    expect((await call(`/api/projects/${owner.projectId}/activity_log/`, { key: second.token })).status).toBe(401);
    expect((await activityRows({ scope: "ViewerToken", activity: "revoked" })).some((row) => row.item_id === second.id)).toBe(true);
  });

  it("refuses write scopes, lifetimes over 24 hours and scopes the minting key lacks", async () => {
    const write = await call(tokens(), { key: owner.key, body: { scopes: ["activity_log:write"] } });
    expect(write.status).toBe(400);
    expect(write.body.attr).toMatch(/^scopes/);
    const long = await call(tokens(), { key: owner.key, body: { expires_in_minutes: 24 * 60 + 1 } });
    expect(long.status).toBe(400);
    expect(long.body.attr).toBe("expires_in_minutes");
    const narrow = await keyWithScopes(owner, ["organization:write", "activity_log:read"]);
    const wider = await call(tokens(), { key: narrow, body: { scopes: ["logs:read"] } });
    expect(wider.status).toBe(403);
    const fitting = await call(tokens(), { key: narrow, body: {} });
    expect(fitting.status).toBe(201);
    expect(fitting.body.scopes).toEqual(["activity_log:read", "organization:read"]);
  });

  it("is for admins only", async () => {
    expect((await call(tokens(), { key: member.key, body: {} })).status).toBe(403);
    expect((await call(tokens(), { key: member.key })).status).toBe(403);
    expect((await call(tokens(), { body: {} })).status).toBe(401);
  });
});

describe("the viewer's pages", () => {
  it("serves the app's index for its page paths, with a strict content security policy", async () => {
    for (const path of ["/app/", "/app", "/app/activity"]) {
      const res = await call(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/text\/html/);
      expect(String(res.body)).toContain('<div id="root">');
      expect(res.headers.get("content-security-policy")).toContain("connect-src 'self'");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    }
  });

  it("serves its script and keeps unknown files a 404", async () => {
    const html = String((await call("/app/")).body);
    const script = /src="(\/app\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const js = await call(script!);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toMatch(/javascript/);
    expect((await call("/app/assets/missing.js")).status).toBe(404);
  });
});
