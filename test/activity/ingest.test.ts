import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { activityRows, addMember, call, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";
import { flagChange, ingest } from "./activity-helpers";

// Storage is isolated per file: one tenant for every test here.
let owner: Tenant;
let member: Tenant;
let path: string;

beforeAll(async () => {
  owner = await signupFirstUser();
  member = await addMember(owner, 1);
  path = `/api/projects/${owner.projectId}/activity_log/`;
});

const count = async () => (await env.DB.prepare("SELECT count(*) AS n FROM activity_log").first<{ n: number }>())!.n;

describe("POST /api/projects/:id/activity_log/", () => {
  it("stores one entry and answers with the row, recording the key's user and the client header", async () => {
    const res = await call(path, {
      key: owner.key,
      headers: { "X-PostHog-Client": "terraform-provider" },
      body: {
        scope: "FeatureFlag",
        activity: "updated",
        item_id: 42,
        detail: { name: "new-checkout-flow", short_id: "ck-2", changes: [flagChange("active", false, true)] },
      },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      user: { id: owner.userId, uuid: owner.userUuid },
      organization_id: owner.organizationId,
      team_id: owner.projectId,
      is_system: false,
      was_impersonated: false,
      client: "terraform-provider",
      scope: "FeatureFlag",
      activity: "updated",
      item_id: "42",
      detail: { name: "new-checkout-flow", changes: [{ field: "active", before: false, after: true }] },
    });
    const [row] = (await activityRows({ scope: "FeatureFlag" })).filter((r) => r.id === res.body.id);
    expect(row).toMatchObject({ user_id: owner.userId, team_id: owner.projectId, client: "terraform-provider", item_id: "42" });
    expect(new Date(row!.created_at).toISOString()).toBe(res.body.created_at);
  });

  it("stores a batch and answers with the ids in order", async () => {
    const res = await call(path, {
      key: owner.key,
      body: {
        entries: [1, 2, 3].map((n) => ({ scope: "Dashboard", activity: "created", item_id: `d${n}`, detail: { name: `Dash ${n}` } })),
      },
    });
    expect(res.status).toBe(201);
    expect(res.body.count).toBe(3);
    const rows = await activityRows({ scope: "Dashboard" });
    expect(rows.map((r) => r.id)).toEqual(res.body.ids);
    expect(rows.map((r) => r.item_id)).toEqual(["d1", "d2", "d3"]);
    expect(rows.map((r) => r.detail)).toEqual([1, 2, 3].map((n) => ({ name: `Dash ${n}` })));
    // Nobody listens in this organization: the publisher clears the batch's outbox row in one statement.
    let left = 1;
    for (let i = 0; i < 50 && left > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      left = (await env.DB.prepare("SELECT count(*) AS n FROM notification_outbox").first<{ n: number }>())?.n ?? 0;
    }
    expect(left).toBe(0);
  });

  it("takes the acting user by id, uuid or email or none, impersonation and past dates within the window", async () => {
    const dayAgo = new Date(Date.now() - 86_400_000);
    const naive = dayAgo.toISOString().slice(0, 19);
    const { ids } = await ingest(owner, [
      { scope: "Insight", activity: "updated", user: member.userId },
      { scope: "Insight", activity: "updated", user: member.userUuid, was_impersonated: true },
      { scope: "Insight", activity: "updated", is_system: false, created_at: dayAgo.toISOString() },
      { scope: "Insight", activity: "updated", user: null, created_at: naive },
    ]);
    const rows = await activityRows({ scope: "Insight" });
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(ids[0]!)).toMatchObject({ user_id: member.userId, is_system: 0, was_impersonated: 0 });
    expect(byId.get(ids[1]!)).toMatchObject({ user_id: member.userId, was_impersonated: 1 });
    expect(byId.get(ids[2]!)).toMatchObject({ user_id: owner.userId, is_system: 0, created_at: dayAgo.getTime() });
    // No user is not a system row: an app cannot make its rows look like the service's own.
    expect(byId.get(ids[3]!)).toMatchObject({ user_id: null, is_system: 0, created_at: Date.parse(`${naive}Z`) });
  });

  it("resolves a user by email case-insensitively", async () => {
    const me = await call("/api/users/@me/", { key: member.key });
    const { ids } = await ingest(owner, [{ scope: "Cohort", activity: "created", user: me.body.email.toUpperCase() }]);
    const [row] = (await activityRows({ scope: "Cohort" })).filter((r) => r.id === ids[0]);
    expect(row?.user_id).toBe(member.userId);
  });

  it("rejects a whole batch with one bad entry, naming its index and field, and stores nothing", async () => {
    const before = await count();
    const res = await call(path, {
      key: owner.key,
      body: {
        entries: [
          { scope: "A", activity: "created" },
          { scope: "B", activity: "created" },
          { scope: "", activity: "created" },
        ],
      },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ type: "validation_error", attr: "entries__2__scope" });
    const missing = await call(path, { key: owner.key, body: { entries: [{ scope: "A", activity: "created" }, { scope: "B" }] } });
    expect(missing.body).toMatchObject({ code: "required", attr: "entries__1__activity", detail: "This field is required." });
    const badChange = await call(path, {
      key: owner.key,
      body: { entries: [{ scope: "A", activity: "x", detail: { changes: [{ type: "A", action: "renamed" }] } }] },
    });
    expect(badChange.body.attr).toBe("entries__0__detail__changes__0__action");
    expect(await count()).toBe(before);
  });

  it("rejects an unknown user, a future date and bad shapes with the failing field", async () => {
    const before = await count();
    const stranger = await call(path, {
      key: owner.key,
      body: {
        entries: [
          { scope: "A", activity: "x" },
          { scope: "A", activity: "x", user: 999999 },
        ],
      },
    });
    expect(stranger.status).toBe(400);
    expect(stranger.body).toMatchObject({ attr: "entries__1__user", detail: "User is not a member of this organization." });
    const single = await call(path, { key: owner.key, body: { scope: "A", activity: "x", user: "nobody@example.com" } });
    expect(single.body.attr).toBe("user");
    const future = new Date(Date.now() + 3600_000).toISOString();
    const late = await call(path, { key: owner.key, body: { scope: "A", activity: "x", created_at: future } });
    expect(late.body).toMatchObject({ attr: "created_at", detail: "created_at cannot be in the future." });
    const badDate = await call(path, { key: owner.key, body: { scope: "A", activity: "x", created_at: "yesterday" } });
    expect(badDate.body.attr).toBe("created_at");
    const extra = await call(path, { key: owner.key, body: { scope: "A", activity: "x", colour: "red" } });
    expect(extra.status).toBe(400);
    const tooMany = await call(path, {
      key: owner.key,
      body: { entries: Array.from({ length: 1001 }, () => ({ scope: "A", activity: "x" })) },
    });
    expect(tooMany.body.attr).toBe("entries");
    const empty = await call(path, { key: owner.key, body: { entries: [] } });
    expect(empty.body.attr).toBe("entries");
    const huge = await call(path, {
      key: owner.key,
      body: { scope: "A", activity: "x", detail: { context: { blob: "x".repeat(70_000) } } },
    });
    expect(huge.body.attr).toBe("detail");
    const malformed = await call(path, { key: owner.key, raw: "{nope" });
    expect(malformed.status).toBe(400);
    expect(await count()).toBe(before);
  });

  it("replays an Idempotency-Key within 24 hours without storing anything new", async () => {
    const body = { entries: [{ scope: "Survey", activity: "launched", item_id: "s1" }] };
    const headers = { "Idempotency-Key": "retry-123" };
    const first = await call(path, { key: owner.key, body, headers });
    expect(first.status).toBe(201);
    const before = await count();
    const replay = await call(path, { key: owner.key, body, headers });
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await count()).toBe(before);

    const reused = await call(path, { key: owner.key, body: { entries: [{ scope: "Survey", activity: "stopped" }] }, headers });
    expect(reused.status).toBe(409);
    expect(reused.body.code).toBe("idempotency_key_reused");
    // Another user's identical key is a different key.
    const theirs = await call(path, { key: member.key, body, headers });
    expect(theirs.status).toBe(201);
    expect(theirs.body.ids).not.toEqual(first.body.ids);
  });

  it("treats a key older than 24 hours as new", async () => {
    const body = { scope: "Survey", activity: "stopped", item_id: "s2" };
    const headers = { "Idempotency-Key": "old-key" };
    const first = await call(path, { key: owner.key, body, headers });
    await env.DB.prepare("UPDATE activity_ingest_keys SET created_at = created_at - 90000000").run();
    const again = await call(path, { key: owner.key, body, headers });
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(first.body.id);
    expect(again.headers.get("idempotent-replayed")).toBeNull();
  });

  it("answers two concurrent requests with one key with the same stored rows", async () => {
    const body = { entries: [{ scope: "Notebook", activity: "created", item_id: "n-race" }] };
    const headers = { "Idempotency-Key": "race" };
    const [a, b] = await Promise.all([call(path, { key: owner.key, body, headers }), call(path, { key: owner.key, body, headers })]);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body).toEqual(b.body);
    expect((await activityRows({ scope: "Notebook" })).filter((r) => r.item_id === "n-race")).toHaveLength(1);
  });

  it("needs a key with activity_log:write, and the project's organization", async () => {
    const body = { scope: "A", activity: "x" };
    expect((await call(path, { body })).status).toBe(401);
    const readOnly = await keyWithScopes(owner, ["activity_log:read"]);
    const denied = await call(path, { key: readOnly, body });
    expect(denied.status).toBe(403);
    expect(denied.body.detail).toBe("API key missing required scope 'activity_log:write'");
    const other = await otherOrganization(owner);
    expect((await call(`/api/projects/${other.projectId}/activity_log/`, { key: member.key, body })).status).toBe(404);
    const writer = await keyWithScopes(owner, ["activity_log:write"]);
    expect((await call(path, { key: writer, body })).status).toBe(201);
  });
});
