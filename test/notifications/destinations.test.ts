import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { openSecret } from "../../src/lib/secret-box";
import { activityRows, addMember, call, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";
import { createDestination, destinationRow, interceptFetch, projectDestinations } from "./notify-helpers";

let owner: Tenant;
let base: string;
let fetches: ReturnType<typeof interceptFetch> | null = null;

beforeAll(async () => {
  owner = await signupFirstUser();
  base = projectDestinations(owner);
});

afterEach(() => {
  fetches?.restore();
  fetches = null;
});

// These destinations listen to change-request events only, so the writes of this file do not start
// background deliveries.
const quiet = { events: ["change_request_created"] };

describe("project destinations: CRUD", () => {
  it("creates a webhook destination whose whsec_ secret is shown once", async () => {
    const created = await createDestination(owner, { ...quiet, name: "Ops hook", filters: { scopes: ["FeatureFlag"] } });
    expect(created).toMatchObject({
      name: "Ops hook",
      type: "webhook",
      url: "https://hooks.receiver.invalid/in",
      enabled: true,
      events: ["change_request_created"],
      filters: { scopes: ["FeatureFlag"] },
      include_organization_activity: false,
      organization: owner.organizationId,
      project: owner.projectId,
      disabled_reason: null,
      created_by: { id: owner.userId },
    });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const read = await call(`${base}${created.id}/`, { key: owner.key });
    expect(read.status).toBe(200);
    expect(read.body.secret).toBeNull();
    // Stored sealed (AES-GCM), never as the whsec_ value itself.
    const stored = (await destinationRow(created.id)).secret!;
    expect(stored).toMatch(/^sealed:v1:/);
    expect(stored).not.toContain(created.secret.slice(6));
    expect(await openSecret(env, stored)).toBe(created.secret);
    const [row] = (await activityRows({ scope: "NotificationDestination", activity: "created" })).filter((r) => r.item_id === created.id);
    expect(row?.team_id).toBe(owner.projectId);
    expect(JSON.stringify(row?.detail)).not.toContain(created.secret);
  });

  it("creates a Slack destination without a secret and masks its URL in the activity log", async () => {
    const created = await createDestination(owner, { ...quiet, type: "slack", url: "https://hooks.slack.com/services/T0/B0/tok3n" });
    expect(created.secret).toBeNull();
    const rows = (await activityRows({ scope: "NotificationDestination" })).filter((r) => r.item_id === created.id);
    expect(JSON.stringify(rows)).not.toContain("tok3n");
    const patch = await call(`${base}${created.id}/`, {
      key: owner.key,
      method: "PATCH",
      body: { url: "https://hooks.slack.com/services/T0/B0/other" },
    });
    expect(patch.status).toBe(200);
    const updated = (await activityRows({ scope: "NotificationDestination", activity: "updated" })).filter((r) => r.item_id === created.id);
    expect(updated[0]?.detail.changes).toEqual([
      { type: "NotificationDestination", action: "changed", field: "url", before: "masked", after: "masked" },
    ]);
  });

  it("lists with limit/offset, updates with a diff, deletes", async () => {
    const a = await createDestination(owner, { ...quiet, name: "List A" });
    await createDestination(owner, { ...quiet, name: "List B" });
    const page = await call(`${base}?limit=1&offset=1`, { key: owner.key });
    expect(page.status).toBe(200);
    expect(page.body.count).toBeGreaterThanOrEqual(2);
    expect(page.body.results).toHaveLength(1);
    expect(page.body.previous).not.toBeNull();

    const patch = await call(`${base}${a.id}/`, { key: owner.key, method: "PATCH", body: { name: "Renamed", enabled: false } });
    expect(patch.status).toBe(200);
    expect(patch.body).toMatchObject({ name: "Renamed", enabled: false });
    const [diff] = (await activityRows({ scope: "NotificationDestination", activity: "updated" })).filter((r) => r.item_id === a.id);
    expect(diff?.detail.changes).toEqual(
      expect.arrayContaining([
        { type: "NotificationDestination", action: "changed", field: "name", before: "List A", after: "Renamed" },
        { type: "NotificationDestination", action: "changed", field: "enabled", before: true, after: false },
      ]),
    );

    expect((await call(`${base}${a.id}/`, { key: owner.key, method: "DELETE" })).status).toBe(204);
    expect((await call(`${base}${a.id}/`, { key: owner.key })).status).toBe(404);
    expect((await activityRows({ scope: "NotificationDestination", activity: "deleted" })).some((r) => r.item_id === a.id)).toBe(true);
  });

  it("rotates a webhook secret: the new one is shown once and the old one signs for 24 h", async () => {
    const created = await createDestination(owner, quiet);
    const rotated = await call(`${base}${created.id}/rotate_secret/`, { key: owner.key, method: "POST" });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(created.secret);
    const expires = Date.parse(rotated.body.previous_secret_expires_at);
    expect(expires - Date.now()).toBeGreaterThan(23.9 * 3600_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(24 * 3600_000);
    const row = await destinationRow(created.id);
    expect(await openSecret(env, row.previousSecret!)).toBe(created.secret);

    fetches = interceptFetch();
    const test = await call(`${base}${created.id}/test/`, { key: owner.key, method: "POST" });
    expect(test.status).toBe(200);
    const request = fetches.received[0]!;
    const signatures = request.headers.get("webhook-signature")!.split(" ");
    expect(signatures).toHaveLength(2);
    // Either secret verifies on its own: receivers can switch over at any time within the 24 h.
    for (const secret of [created.secret, rotated.body.secret]) {
      expect(new Webhook(secret).verify(request.body, Object.fromEntries(request.headers))).toMatchObject({ type: "test" });
    }

    const slack = await createDestination(owner, { ...quiet, type: "slack", url: "https://hooks.slack.com/services/T/B/x" });
    const refused = await call(`${base}${slack.id}/rotate_secret/`, { key: owner.key, method: "POST" });
    expect(refused.status).toBe(400);
    expect(refused.body.attr).toBe("type");
  });
});

describe("project destinations: validation", () => {
  it.each([
    [{ name: "" }, "name"],
    [{ type: "email" }, "type"],
    [{ events: [] }, "events"],
    [{ events: ["nope"] }, "events__0"],
    [{ events: ["logs_alert_firing", "logs_alert_firing"] }, "events"],
    [{ filters: { scopes: "FeatureFlag" } }, "filters__scopes"],
    [{ filters: { colour: ["red"] } }, "filters__colour"],
    [{ filters: { item_ids: Array.from({ length: 101 }, (_, i) => String(i)) } }, "filters__item_ids"],
    [{ url: "ftp://example.com/x" }, "url"],
    [{ url: "not a url" }, "url"],
    [{ url: "https://127.0.0.1/hook" }, "url"],
    [{ surprise: true }, "surprise"],
  ])("refuses %j (attr %s) and stores nothing", async (patch, attr) => {
    const before = await call(`${base}?limit=1`, { key: owner.key });
    const res = await call(base, {
      key: owner.key,
      body: { name: "Bad", type: "webhook", url: "https://hooks.receiver.invalid/x", ...quiet, ...patch },
    });
    expect(res.status).toBe(400);
    expect(res.body.type).toBe("validation_error");
    expect(res.body.attr).toBe(attr);
    const after = await call(`${base}?limit=1`, { key: owner.key });
    expect(after.body.count).toBe(before.body.count);
  });

  it("refuses a bad URL on update too", async () => {
    const created = await createDestination(owner, quiet);
    const res = await call(`${base}${created.id}/`, { key: owner.key, method: "PATCH", body: { url: "https://[::1]/x" } });
    expect(res).toMatchObject({ status: 400, body: { attr: "url" } });
    expect((await destinationRow(created.id)).url).toBe("https://hooks.receiver.invalid/in");
  });

  it("refuses type changes and malformed JSON", async () => {
    const created = await createDestination(owner, quiet);
    const res = await call(`${base}${created.id}/`, { key: owner.key, method: "PATCH", body: { type: "slack" } });
    expect(res.status).toBe(400);
    const raw = await call(base, { key: owner.key, raw: "{nope", method: "POST" });
    expect(raw.status).toBe(400);
  });
});

describe("project destinations: access", () => {
  it("answers 401 without a key and 403 without the scope", async () => {
    expect((await call(base)).status).toBe(401);
    const readOnly = await keyWithScopes(owner, ["activity_log:read"]);
    expect((await call(base, { key: readOnly })).status).toBe(200);
    const create = await call(base, {
      key: readOnly,
      body: { name: "x", type: "webhook", url: "https://hooks.receiver.invalid/x", ...quiet },
    });
    expect(create.status).toBe(403);
    expect(create.body.detail).toBe("API key missing required scope 'activity_log:write'");
    const unrelated = await keyWithScopes(owner, ["project:read"]);
    expect((await call(base, { key: unrelated })).status).toBe(403);
  });

  it("lets members read but only admins write", async () => {
    const created = await createDestination(owner, quiet);
    const member = await addMember(owner, 1);
    expect((await call(`${base}${created.id}/`, { key: member.key })).status).toBe(200);
    expect((await call(`${base}${created.id}/deliveries/`, { key: member.key })).status).toBe(200);
    const create = await call(base, {
      key: member.key,
      body: { name: "x", type: "webhook", url: "https://hooks.receiver.invalid/x", ...quiet },
    });
    expect(create.status).toBe(403);
    expect((await call(`${base}${created.id}/`, { key: member.key, method: "DELETE" })).status).toBe(403);
    expect((await call(`${base}${created.id}/test/`, { key: member.key, method: "POST" })).status).toBe(403);
    const admin = await addMember(owner, 8);
    expect((await call(`${base}${created.id}/`, { key: admin.key, method: "PATCH", body: { name: "By admin" } })).status).toBe(200);
  });

  it("answers 404 for another organization's project and destination", async () => {
    const other = await otherOrganization(owner);
    const otherBase = `/api/projects/${other.projectId}/destinations/`;
    const theirs = await call(otherBase, {
      key: owner.key,
      body: { name: "Theirs", type: "webhook", url: "https://hooks.receiver.invalid/t", ...quiet },
    });
    expect(theirs.status).toBe(201);
    const outsider = await signupOutsider();
    expect((await call(otherBase, { key: outsider })).status).toBe(404);
    expect((await call(`${otherBase}${theirs.body.id}/`, { key: outsider })).status).toBe(404);
    // The id of one project's destination is not reachable through another project.
    expect((await call(`${base}${theirs.body.id}/`, { key: owner.key })).status).toBe(404);
  });
});

/** A user of a different organization: joins through an invite to a fresh organization only. */
async function signupOutsider(): Promise<string> {
  const other = await otherOrganization(owner);
  const invite = await call(`/api/organizations/${other.organizationId}/invites/`, {
    key: owner.key,
    body: { target_email: "outsider@example.com", level: 15 },
  });
  const res = await call("/api/signup/", {
    body: { email: "outsider@example.com", first_name: "Out", invite_token: invite.body.invite_token },
  });
  const key = res.body.personal_api_key.value as string;
  // The outsider's key is restricted to their own organization, like a fresh tenant's.
  return keyFor(key, other.organizationId);
}

async function keyFor(key: string, organizationId: string): Promise<string> {
  const res = await call("/api/personal_api_keys/", {
    key,
    body: { label: "outsider", scopes: ["*"], scoped_organizations: [organizationId] },
  });
  return res.body.value;
}

describe("organization destinations", () => {
  it("are admin-only, take activity events only, and are separate from project destinations", async () => {
    const orgBase = `/api/organizations/${owner.organizationId}/destinations/`;
    const created = await createDestination(
      owner,
      { events: ["activity_log_entry_created"], url: "https://hooks.receiver.invalid/org" },
      orgBase,
    );
    expect(created).toMatchObject({ project: null, organization: owner.organizationId });
    const listed = await call(orgBase, { key: owner.key });
    expect(listed.body.results.map((d: any) => d.id)).toEqual([created.id]);
    expect((await call(`${base}${created.id}/`, { key: owner.key })).status).toBe(404);
    const [row] = (await activityRows({ scope: "NotificationDestination", activity: "created" })).filter((r) => r.item_id === created.id);
    expect(row?.team_id).toBeNull();

    const wrongEvents = await call(orgBase, {
      key: owner.key,
      body: { name: "x", type: "webhook", url: "https://hooks.receiver.invalid/x", events: ["logs_alert_firing"] },
    });
    expect(wrongEvents).toMatchObject({ status: 400, body: { attr: "events" } });

    const member = await addMember(owner, 1);
    expect((await call(orgBase, { key: member.key })).status).toBe(403);
    const other = await otherOrganization(owner);
    expect((await call(`/api/organizations/${other.organizationId}/destinations/`, { key: member.key })).status).toBe(404);
  });
});

describe("test endpoint", () => {
  it("signs a test event that the standardwebhooks package verifies and returns the answer", async () => {
    const created = await createDestination(owner, quiet);
    fetches = interceptFetch(() => new Response("thanks", { status: 202 }));
    const res = await call(`${base}${created.id}/test/`, { key: owner.key, method: "POST" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, status_code: 202, response_body: "thanks", error: null });
    const request = fetches.received[0]!;
    expect(request.url).toBe("https://hooks.receiver.invalid/in");
    expect(request.method).toBe("POST");
    expect(request.headers.get("webhook-id")).toBe(res.body.webhook_id);
    expect(request.init?.redirect).toBe("manual");
    expect(request.init?.signal).toBeInstanceOf(AbortSignal);
    const payload = new Webhook(created.secret).verify(request.body, Object.fromEntries(request.headers)) as any;
    expect(payload).toMatchObject({ type: "test", data: { destination: { id: created.id } } });
    expect(() => new Webhook(created.secret).verify(`${request.body} `, Object.fromEntries(request.headers))).toThrow();
  });

  it("reports a receiver that fails or cannot be reached", async () => {
    const created = await createDestination(owner, { ...quiet, type: "slack", url: "https://hooks.slack.com/services/T/B/y" });
    fetches = interceptFetch(() => new Response("channel_not_found", { status: 404 }));
    const res = await call(`${base}${created.id}/test/`, { key: owner.key, method: "POST" });
    expect(res.body).toMatchObject({ success: false, status_code: 404, response_body: "channel_not_found" });
    const slackBody = JSON.parse(fetches.received[0]!.body);
    expect(slackBody.text).toContain("Test notification");
    expect(slackBody.blocks[0]).toMatchObject({ type: "section", text: { type: "mrkdwn" } });
    fetches.respond(() => {
      throw new TypeError("Network connection lost.");
    });
    const down = await call(`${base}${created.id}/test/`, { key: owner.key, method: "POST" });
    expect(down.body).toMatchObject({ success: false, status_code: null, error: "Network connection lost." });
  });

  it("does not follow redirects", async () => {
    const created = await createDestination(owner, quiet);
    fetches = interceptFetch(() => new Response(null, { status: 302, headers: { location: "http://169.254.169.254/" } }));
    const res = await call(`${base}${created.id}/test/`, { key: owner.key, method: "POST" });
    expect(res.body).toMatchObject({ success: false, status_code: 302 });
    expect(fetches.received).toHaveLength(1);
  });
});
