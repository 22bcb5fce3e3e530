import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { SERVICE_SCOPES } from "../../src/audit/record";
import { sha256Hex } from "../../src/lib/ids";
import { parseCsv } from "../csv";
import { activityRows, addMember, call, keyWithScopes, signupFirstUser, type Tenant } from "../helpers";
import { allPages, ingest, waitForExport } from "./activity-helpers";

// Finding 6 of issue 12: a member with activity_log:write wrote rows attributed to the owner, under
// the service's own scopes, as system rows, dated 1971, indistinguishable from genuine rows.

let owner: Tenant;
let member: Tenant;
/** The member's key holding only activity_log:write, and its id. */
let writer: { key: string; id: string };
let ownerKeyId: string;
let forged: string;
let path: string;

/** A key's id, from its stored hash. */
async function keyId(key: string): Promise<string> {
  const row = await env.DB.prepare("SELECT id FROM personal_api_keys WHERE secure_value = ?1")
    .bind(await sha256Hex(key))
    .first<{ id: string }>();
  return row!.id;
}

beforeAll(async () => {
  owner = await signupFirstUser();
  member = await addMember(owner, 1);
  path = `/api/projects/${owner.projectId}/activity_log/`;
  const key = await keyWithScopes(member, ["activity_log:write"]);
  writer = { key, id: await keyId(key) };
  ownerKeyId = await keyId(owner.key);
  const res = await call(path, {
    key: writer.key,
    body: { scope: "FeatureFlag", activity: "updated", item_id: "ff-1", user: owner.userId, detail: { name: "checkout" } },
  });
  expect(res.status).toBe(201);
  forged = res.body.id;
});

const recorder = (tenant: Tenant, apiKeyId: string) => ({
  user: expect.objectContaining({ id: tenant.userId, uuid: tenant.userUuid }),
  api_key_id: apiKeyId,
});

describe("recorded_by: who really wrote a row", () => {
  it("names the writing key and its user, apart from the user the app claims, in every activity API", async () => {
    const [row] = (await activityRows({ scope: "FeatureFlag" })).filter((r) => r.id === forged);
    expect(row).toMatchObject({ user_id: owner.userId, recorded_by_user_id: member.userId, recorded_by_key_id: writer.id });

    const single = await call(path, { key: writer.key, body: { scope: "FeatureFlag", activity: "viewed", user: owner.userId } });
    expect(single.body).toMatchObject({ user: { id: owner.userId }, recorded_by: recorder(member, writer.id) });

    const lists = [
      path,
      `/api/projects/${owner.projectId}/advanced_activity_logs/`,
      `/api/organizations/${owner.organizationId}/advanced_activity_logs/`,
    ];
    for (const list of lists) {
      const rows = await allPages(list, owner.key);
      expect(
        rows.find((r) => r.id === forged),
        list,
      ).toMatchObject({
        user: { id: owner.userId },
        recorded_by: recorder(member, writer.id),
      });
    }

    const feed = await call(`/api/v2/activities/?application=${owner.projectId}`, {
      key: null,
      headers: { authorization: `Token ${owner.key}` },
    });
    expect(feed.body.results.find((r: any) => r.data.feature_flag === "ff-1")).toMatchObject({
      actor: owner.userId,
      recorded_by: { user: member.userId, api_key_id: writer.id },
    });
  });

  it("records the request's user and key on the service's own rows, and none on system and signup rows", async () => {
    const project = await call("/api/projects/", { key: owner.key, body: { name: "Recorded", organization: owner.organizationId } });
    expect(project.status).toBe(201);
    const rows = await allPages(`/api/organizations/${owner.organizationId}/advanced_activity_logs/?scopes=Project`, owner.key);
    const created = rows.find((r) => r.item_id === String(project.body.id) && r.activity === "created");
    expect(created).toMatchObject({ user: { id: owner.userId }, recorded_by: recorder(owner, ownerKeyId) });
    // The first-run signup has no key behind it yet.
    const signup = rows.find((r) => r.item_id === String(owner.projectId) && r.activity === "created");
    expect(signup).toMatchObject({ recorded_by: null });

    // An export: created by the owner's request, completed by the queue job (a system row).
    const started = await call(`/api/projects/${owner.projectId}/advanced_activity_logs/export/`, {
      key: owner.key,
      body: { format: "csv", filters: { recorded_by: [writer.id] } },
    });
    expect(started.status).toBe(202);
    const status = await waitForExport(`/api/projects/${owner.projectId}/exports/${started.body.id}/`, owner.key);
    expect(status.status).toBe("complete");
    const assets = (await activityRows({ scope: "ExportedAsset" })).filter((r) => r.item_id === started.body.id);
    const [create, ...job] = assets.map((r) => [r.activity, r.is_system, r.recorded_by_user_id, r.recorded_by_key_id]);
    expect(create).toEqual(["created", 0, owner.userId, ownerKeyId]);
    expect(job.length).toBeGreaterThan(0);
    for (const step of job) expect(step.slice(1)).toEqual([1, null, null]);

    // The export holds only the member's rows (the recorded_by filter) and names the writer in its columns.
    const file = await call(`/api/projects/${owner.projectId}/exports/${started.body.id}/content/`, { key: owner.key });
    const [header, ...lines] = parseCsv(file.body as string);
    const column = (name: string) => header!.indexOf(name);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) {
      expect(line[column("user_email")]).toContain("owner");
      expect(line[column("recorded_by_user_id")]).toBe(String(member.userId));
      expect(line[column("recorded_by_user_email")]).toContain("member");
      expect(line[column("recorded_by_api_key_id")]).toBe(writer.id);
    }
  });

  it("filters by recorded_by: user id, uuid or email, or key id, ORed", async () => {
    await ingest(owner, [{ scope: "Survey", activity: "created", item_id: "by-owner" }]);
    const base = `/api/projects/${owner.projectId}/advanced_activity_logs/?scopes=FeatureFlag,Survey&recorded_by=`;
    const items = async (value: string) => (await allPages(`${base}${encodeURIComponent(value)}`, owner.key)).map((r) => r.item_id);
    const memberEmail = (await call("/api/users/@me/", { key: member.key })).body.email as string;
    for (const value of [String(member.userId), member.userUuid, memberEmail.toUpperCase(), writer.id]) {
      expect(await items(value), value).toEqual([null, "ff-1"]);
    }
    expect(await items(ownerKeyId)).toEqual(["by-owner"]);
    expect(await items(`${writer.id},${owner.userUuid}`)).toEqual(["by-owner", null, "ff-1"]);
    expect(await items("nobody@example.com")).toEqual([]);
    const org = await allPages(
      `/api/organizations/${owner.organizationId}/advanced_activity_logs/?recorded_by=${writer.id}&scopes=FeatureFlag`,
      owner.key,
    );
    expect(org.map((r) => r.item_id)).toEqual([null, "ff-1"]);
    const tooLong = await call(`${base}${"x".repeat(300)}`, { key: owner.key });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.attr).toBe("recorded_by__0");
  });
});

describe("what ingest refuses", () => {
  const post = (body: unknown) => call(path, { key: writer.key, body });

  it.each(SERVICE_SCOPES.flatMap((scope) => [scope, scope.toLowerCase()]))("the service's scope %s -> 400", async (scope) => {
    const before = (await activityRows()).length;
    const single = await post({ scope, activity: "applied", item_id: "1" });
    expect(single.status).toBe(400);
    expect(single.body).toMatchObject({ type: "validation_error", code: "invalid_input", attr: "scope" });
    expect(single.body.detail).toContain("reserved");
    const batch = await post({
      entries: [
        { scope: "Dashboard", activity: "x" },
        { scope, activity: "applied" },
      ],
    });
    expect(batch.body).toMatchObject({ attr: "entries__1__scope" });
    expect((await activityRows()).length).toBe(before);
  });

  it("is_system: true -> 400; false is the only value", async () => {
    const single = await post({ scope: "Dashboard", activity: "x", is_system: true });
    expect(single.status).toBe(400);
    expect(single.body).toMatchObject({ type: "validation_error", attr: "is_system" });
    const batch = await post({ entries: [{ scope: "Dashboard", activity: "x", is_system: true }] });
    expect(batch.body).toMatchObject({ attr: "entries__0__is_system" });
    const plain = await post({ scope: "Dashboard", activity: "x", is_system: false, user: null });
    expect(plain.status).toBe(201);
    expect(plain.body).toMatchObject({ user: null, is_system: false, recorded_by: recorder(member, writer.id) });
  });

  it("dates more than 7 days back or more than a minute ahead -> 400", async () => {
    const day = 86_400_000;
    for (const created_at of [new Date(Date.now() - 8 * day).toISOString(), "1971-01-01T00:00:00Z"]) {
      const res = await post({ scope: "Dashboard", activity: "x", created_at });
      expect(res.status, created_at).toBe(400);
      expect(res.body).toMatchObject({ attr: "created_at", detail: "created_at can be at most 7 days in the past." });
    }
    const ahead = await post({ scope: "Dashboard", activity: "x", created_at: new Date(Date.now() + 5 * 60_000).toISOString() });
    expect(ahead.body).toMatchObject({ attr: "created_at", detail: "created_at cannot be in the future." });
    const backfill = await post({ scope: "Dashboard", activity: "backfilled", created_at: new Date(Date.now() - 6 * day).toISOString() });
    expect(backfill.status).toBe(201);
  });
});
