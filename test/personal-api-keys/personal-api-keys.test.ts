import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { activityRows, addMember, call, signupFirstUser, type Tenant } from "../helpers";

let owner: Tenant;
beforeAll(async () => {
  owner = await signupFirstUser();
});

const keys = "/api/personal_api_keys/";

describe("personal API keys", () => {
  it("shows the value once and stores only its SHA-256", async () => {
    const res = await call(keys, { key: owner.key, body: { label: "CI", scopes: ["activity_log:read"] } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      label: "CI",
      scopes: ["activity_log:read"],
      scoped_organizations: [],
      scoped_teams: [],
      last_used_at: null,
    });
    expect(res.body.value).toMatch(/^phx_/);
    expect(res.body.mask_value).toBe(`${res.body.value.slice(0, 4)}...${res.body.value.slice(-4)}`);
    const stored = await env.DB.prepare("select * from personal_api_keys where id = ?").bind(res.body.id).first<Record<string, string>>();
    expect(JSON.stringify(stored)).not.toContain(res.body.value);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(res.body.value)));
    expect(stored?.secure_value).toBe([...digest].map((b) => b.toString(16).padStart(2, "0")).join(""));
    const got = await call(`${keys}${res.body.id}/`, { key: owner.key });
    expect(got.body.value).toBeUndefined();
    const [row] = await activityRows({ scope: "PersonalAPIKey", activity: "created" }).then((r) =>
      r.filter((x) => x.item_id === res.body.id),
    );
    expect(row?.detail.changes[0].after.value).toBe("masked");
  });

  it("authenticates with Bearer or Token, and records last_used_at", async () => {
    const created = await call(keys, { key: owner.key, body: { label: "Reader", scopes: ["user:read"] } });
    const token = await call("/api/users/@me/", { headers: { authorization: `Token ${created.body.value}` } });
    expect(token.status).toBe(200);
    expect(token.body.id).toBe(owner.userId);
    const after = await call(`${keys}${created.body.id}/`, { key: owner.key });
    expect(after.body.last_used_at).toEqual(expect.stringMatching(/Z$/));
  });

  it("applies :write implies :read and refuses missing scopes", async () => {
    const write = (await call(keys, { key: owner.key, body: { label: "W", scopes: ["personal_api_key:write"] } })).body.value;
    expect((await call(keys, { key: write })).status).toBe(200);
    const read = (await call(keys, { key: owner.key, body: { label: "R", scopes: ["personal_api_key:read"] } })).body.value;
    const denied = await call(keys, { key: read, body: { label: "X", scopes: ["*"] } });
    expect(denied.body.detail).toBe("API key missing required scope 'personal_api_key:write'");
  });

  it("validates scopes and restrictions", async () => {
    const badScope = await call(keys, { key: owner.key, body: { label: "B", scopes: ["everything"] } });
    expect(badScope.body).toMatchObject({ type: "validation_error", attr: "scopes__0" });
    const badOrg = await call(keys, {
      key: owner.key,
      body: { label: "B", scopes: ["*"], scoped_organizations: ["00000000-0000-7000-8000-000000000000"] },
    });
    expect(badOrg.body.attr).toBe("scoped_organizations__0");
    const badTeam = await call(keys, { key: owner.key, body: { label: "B", scopes: ["*"], scoped_teams: [owner.projectId, 999999] } });
    expect(badTeam.body.attr).toBe("scoped_teams__1");
    expect((await call(keys, { key: owner.key, body: { scopes: ["*"] } })).body.attr).toBe("label");
  });

  it("updates and revokes; a revoked key stops working at once", async () => {
    const created = (await call(keys, { key: owner.key, body: { label: "Temp", scopes: ["user:read"] } })).body;
    const patched = await call(`${keys}${created.id}/`, {
      key: owner.key,
      method: "PATCH",
      body: { label: "Temp2", scopes: ["user:read", "project:read"] },
    });
    expect(patched.body).toMatchObject({ label: "Temp2", scopes: ["user:read", "project:read"] });
    expect((await call("/api/projects/", { key: created.value })).status).toBe(200);
    expect((await call(`${keys}${created.id}/`, { key: owner.key, method: "DELETE" })).status).toBe(204);
    expect((await call("/api/users/@me/", { key: created.value })).status).toBe(401);
    expect((await activityRows({ scope: "PersonalAPIKey" })).filter((r) => r.item_id === created.id).map((r) => r.activity)).toEqual([
      "created",
      "updated",
      "deleted",
    ]);
  });

  it("never shows another user's keys", async () => {
    const other = await addMember(owner, 8);
    const mine = (await call(keys, { key: owner.key })).body.results.map((k: any) => k.id);
    expect((await call(`${keys}${mine[0]}/`, { key: other.key })).status).toBe(404);
    expect((await call(`${keys}${mine[0]}/`, { key: other.key, method: "DELETE" })).status).toBe(404);
    expect((await call(keys, { key: other.key })).body.count).toBe(1);
  });
});
