import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { keyLookup } from "../../src/auth/authenticate";
import type { Credentials } from "../../src/auth/context";
import { type Demand, guardCondition, guardedSelect } from "../../src/auth/one-trip";
import { sha256Hex } from "../../src/lib/ids";
import { addMember, call, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";

// Issue 15: every response reports its D1 round trips (Server-Timing `db;...;desc="N round trips"`),
// the reads authenticate and read in one D1 batch, and a caller the route refuses makes D1 do none
// of the page's work, answered exactly as before (401 / 403 / 404, never a 400).

/** The round trips a response reports. */
function roundTrips(headers: Headers): number {
  const match = /(?:^|,\s*)db;[^,]*desc="(\d+) round trips?"/.exec(headers.get("server-timing") ?? "");
  if (!match) throw new Error(`no db entry in ${headers.get("server-timing")}`);
  return Number(match[1]);
}

async function seedActivity(key: string, projectId: number, n: number, scope = "Dashboard") {
  const entries = Array.from({ length: n }, (_, i) => ({ scope, activity: "created", item_id: `d${i}`, detail: { name: `D ${i}` } }));
  const res = await call(`/api/projects/${projectId}/activity_log/`, { key, body: { entries } });
  expect(res.status).toBe(201);
}

let owner: Tenant;
let member: Tenant;
let admin: Tenant;
let other: { organizationId: string; projectId: number };
let ids: { alert: string; destination: string; changeRequest: string };

beforeAll(async () => {
  owner = await signupFirstUser();
  member = await addMember(owner, 1);
  admin = await addMember(owner, 8);
  other = await otherOrganization(owner);
  await seedActivity(owner.key, owner.projectId, 3);
  await seedActivity(owner.key, other.projectId, 200);
  const project = `/api/projects/${owner.projectId}`;
  const write = async (path: string, body: unknown) => {
    const res = await call(path, { key: owner.key, body });
    expect(res.status, `${path} ${JSON.stringify(res.body)}`).toBeLessThan(300);
    return res.body;
  };
  const alert = await write(`${project}/logs/alerts/`, { name: "errors", filters: { severityLevels: ["error"] } });
  const destination = await write(`${project}/destinations/`, {
    name: "hook",
    type: "webhook",
    url: "https://example.com/hook",
    events: ["change_request_created"],
  });
  await write(`${project}/approval_policies/`, { action_key: "app.thing.update", approver_config: { users: [owner.userId], quorum: 1 } });
  const changeRequest = await write(`${project}/change_requests/`, {
    action_key: "app.thing.update",
    resource_type: "Thing",
    resource_id: "1",
    intent: { full_request_data: { on: true } },
    intent_display: { description: "Turn the thing on" },
  });
  ids = { alert: alert.id, destination: destination.id, changeRequest: changeRequest.id };
});

/** The reads of issue 15 item 2 that answer in one round trip, as `[path, body?]`. */
function oneTripReads(t: Tenant): [string, unknown?][] {
  const project = `/api/projects/${t.projectId}`;
  const organization = `/api/organizations/${t.organizationId}`;
  const range = { dateRange: { date_from: "-1h" } };
  return [
    [`${project}/activity_log/`],
    [`${project}/activity_log/?page=1`],
    [`${project}/advanced_activity_logs/?scopes=Dashboard`],
    [`${organization}/advanced_activity_logs/`],
    [`${organization}/advanced_activity_logs/?team_ids=${t.projectId}&page=1`],
    [`${project}/advanced_activity_logs/available_filters/`],
    [`${organization}/advanced_activity_logs/available_filters/`],
    [`${project}/logs/query/`, { query: range }],
    [`${project}/logs/sparkline/`, { query: range }],
    [`${project}/logs/count/`, { query: range }],
    [`${project}/logs/attributes/?attribute_type=log`],
    [`${project}/logs/values/?attribute_type=log&key=k`],
    [`${project}/logs/has_logs/`],
    [`${project}/logs/alerts/`],
    [`${project}/logs/alerts/${ids.alert}/`],
    [`${project}/logs/alerts/${ids.alert}/events/`],
    [`${project}/change_requests/`],
    [`${project}/change_requests/?state=pending`],
    [`${project}/change_requests/${ids.changeRequest}/`],
    [`${project}/destinations/`],
    [`${project}/destinations/${ids.destination}/`],
    [`${project}/destinations/${ids.destination}/deliveries/`],
    [`${organization}/destinations/`],
  ];
}

describe("D1 round trips per request", () => {
  it("every response reports them in Server-Timing, a trivial one too", async () => {
    const health = await call("/healthz");
    expect(roundTrips(health.headers)).toBe(1);
    const noKey = await call(`/api/projects/${owner.projectId}/activity_log/`);
    expect(noKey.status).toBe(401);
    expect(roundTrips(noKey.headers)).toBe(0);
  });

  it("each listed read authenticates and reads in one round trip", async () => {
    for (const [path, body] of oneTripReads(owner)) {
      const res = await call(path, { key: owner.key, body });
      expect(res.status, `${path} ${JSON.stringify(res.body)}`).toBe(200);
      expect(roundTrips(res.headers), path).toBe(1);
    }
  });

  it("reads the page only for the key's own user (the notification bookmark) and the path's tenant", async () => {
    const list = await call(`/api/projects/${owner.projectId}/activity_log/?scope=Dashboard`, { key: owner.key });
    expect(list.body.results).toHaveLength(3);
    expect(list.body.results.every((r: any) => r.team_id === owner.projectId && r.unread === true)).toBe(true);
  });
});

describe("the SD Elements feed", () => {
  it("is one round trip without filters that need a lookup, and shows the same page as the lookup path", async () => {
    const fast = await call(`/api/v2/activities/?business_unit=${other.organizationId}&page_size=50`, { key: owner.key });
    expect(fast.status).toBe(200);
    expect(roundTrips(fast.headers)).toBe(1);
    expect(fast.body.results.length).toBeGreaterThan(10);
    expect(fast.body.results.every((r: any) => r.data.business_unit === other.organizationId)).toBe(true);
    // A filter that needs its own lookup takes the separate-key path: the same rows.
    const future = new Date(Date.now() + 86_400_000).toISOString().slice(0, 19);
    const slow = await call(`/api/v2/activities/?business_unit=${other.organizationId}&page_size=50&date_to=${future}`, { key: owner.key });
    expect(slow.status).toBe(200);
    expect(roundTrips(slow.headers)).toBeGreaterThan(1);
    expect(slow.body.results).toEqual(fast.body.results);
    // The owner's whole feed names members (OrganizationMembership rows): read ahead, still one trip.
    const all = await call(`/api/v2/activities/?business_unit=${owner.organizationId}&page_size=1000`, { key: owner.key });
    expect(all.status).toBe(200);
    const memberships = all.body.results.filter((r: any) => r.name.endsWith("OrganizationMembershipActivity"));
    expect(memberships.length).toBeGreaterThan(0);
    expect(memberships.every((r: any) => typeof r.data.user === "number")).toBe(true);
    expect(roundTrips(all.headers)).toBe(1);
    expect((await call("/api/v2/activities/", { key: "phx_not_a_key" })).status).toBe(401);
    const logsOnly = await call("/api/v2/activities/", { key: await keyWithScopes(owner, ["logs:read"]) });
    expect(logsOnly.status).toBe(403);
  });

  it("narrows to a project-scoped key's project", async () => {
    const key = await keyWithScopes(owner, ["*"], { scoped_teams: [owner.projectId] });
    const res = await call("/api/v2/activities/?page_size=200", { key });
    expect(res.status).toBe(200);
    expect(res.body.results.length).toBeGreaterThan(0);
    expect(res.body.results.every((r: any) => r.data.project === owner.projectId)).toBe(true);
  });
});

describe("a caller the route refuses", () => {
  const list = () => `/api/projects/${owner.projectId}/activity_log/`;
  const organizationList = () => `/api/organizations/${owner.organizationId}/advanced_activity_logs/`;

  it("answers as the separate lookup did: 401, 403 scope, 404 stranger, 403 level and restrictions", async () => {
    const bad = await call(list(), { key: "phx_not_a_key" });
    expect(bad.status).toBe(401);
    expect(bad.body.code).toBe("authentication_failed");
    expect(roundTrips(bad.headers)).toBe(1);

    const scoped = await call(list(), { key: await keyWithScopes(owner, ["logs:read"]) });
    expect(scoped.status).toBe(403);
    expect(scoped.body.detail).toBe("API key missing required scope 'activity_log:read'");

    const stranger = await call(`/api/projects/${other.projectId}/activity_log/`, { key: member.key });
    expect(stranger.status).toBe(404);
    expect((await call(`/api/organizations/${other.organizationId}/advanced_activity_logs/`, { key: member.key })).status).toBe(404);

    const low = await call(organizationList(), { key: member.key });
    expect(low.status).toBe(403);
    expect(low.body.detail).toBe("You must be an admin of this organization to do this.");
    expect((await call(organizationList(), { key: admin.key })).status).toBe(200);

    const projectScoped = await keyWithScopes(owner, ["*"], { scoped_teams: [owner.projectId] });
    expect((await call(list(), { key: projectScoped })).status).toBe(200);
    const onOrganization = await call(organizationList(), { key: projectScoped });
    expect(onOrganization.status).toBe(403);
    expect(onOrganization.body.detail).toBe("API keys with scoped projects are only supported on project-based views.");
    const otherProject = await call(`/api/projects/${other.projectId}/activity_log/`, { key: projectScoped });
    expect(otherProject.status).toBe(403);

    const organizationScoped = await keyWithScopes(owner, ["*"], { scoped_organizations: [owner.organizationId] });
    expect((await call(list(), { key: organizationScoped })).status).toBe(200);
    expect((await call(`/api/projects/${other.projectId}/activity_log/`, { key: organizationScoped })).status).toBe(403);
  });

  it("answers a stranger's invalid query with 401 or 404, never the 400 a member gets", async () => {
    const badQuery = `/api/projects/${owner.projectId}/activity_log/?user=not-a-user`;
    expect((await call(badQuery, { key: owner.key })).status).toBe(400);
    expect((await call(badQuery, { key: "phx_not_a_key" })).status).toBe(401);
    const elsewhere = `/api/projects/${other.projectId}/activity_log/?user=not-a-user`;
    expect((await call(elsewhere, { key: member.key })).status).toBe(404);
    const invalidLimit = `/api/organizations/${owner.organizationId}/advanced_activity_logs/?page_size=abc`;
    expect((await call(invalidLimit, { key: member.key })).status).toBe(403);
    expect((await call(invalidLimit, { key: owner.key })).status).toBe(400);
  });

  it("an expired key is unknown", async () => {
    const key = await keyWithScopes(owner, ["*"]);
    await env.DB.prepare("UPDATE personal_api_keys SET expires_at = ?1 WHERE secure_value = ?2")
      .bind(Date.now() - 1000, await sha256Hex(key))
      .run();
    expect((await call(list(), { key })).status).toBe(401);
  });

  it("an organization closed to members' keys refuses a member's, not an admin's", async () => {
    const res = await call(`/api/organizations/${owner.organizationId}/`, {
      key: owner.key,
      method: "PATCH",
      body: { members_can_use_personal_api_keys: false },
    });
    expect(res.status).toBe(200);
    try {
      const refused = await call(list(), { key: member.key });
      expect(refused.status).toBe(403);
      expect(refused.body.detail).toBe("This organization does not allow members to use personal API keys.");
      expect((await call(list(), { key: admin.key })).status).toBe(200);
    } finally {
      await call(`/api/organizations/${owner.organizationId}/`, {
        key: owner.key,
        method: "PATCH",
        body: { members_can_use_personal_api_keys: true },
      });
    }
  });
});

describe("the guard inside SQL", () => {
  const count = "SELECT count(*) AS n FROM activity_log WHERE team_id = ?1 AND scope = 'Dashboard'";

  async function guarded(credentials: Credentials, demand: Demand) {
    const { sql, params } = guardedSelect(count, [other.projectId], credentials, demand, Date.now());
    const [result] = await env.DB.batch([env.DB.prepare(sql).bind(...params)]);
    return { rows: result!.results as { n: number }[], read: result!.meta.rows_read };
  }

  it("reads nothing for a refused caller, everything for an allowed one", async () => {
    const target = { kind: "project" as const, id: other.projectId };
    const demand: Demand = { scope: "activity_log:read", level: "member", organizationRoute: false };
    const allowed = await guarded({ hash: await sha256Hex(owner.key), target }, demand);
    expect(allowed.rows).toEqual([{ n: 200 }]);
    expect(allowed.read).toBeGreaterThanOrEqual(200);
    const logsOnly = await keyWithScopes(owner, ["logs:read"]);
    for (const key of ["phx_unknown", member.key, logsOnly]) {
      const denied = await guarded({ hash: await sha256Hex(key), target }, demand);
      expect(denied.rows, key).toEqual([]);
      expect(denied.read, key).toBeLessThan(10);
    }
    // The owner of the other organization is an owner there: an owner route lets them through.
    const owned = await guarded({ hash: await sha256Hex(owner.key), target }, { ...demand, level: "owner" });
    expect(owned.rows).toEqual([{ n: 200 }]);
  });

  it("agrees with the key lookup's own verdict column", async () => {
    const credentials: Credentials = { hash: await sha256Hex(member.key), target: { kind: "organization", id: owner.organizationId } };
    const demand: Demand = { scope: "activity_log:read", level: "admin", organizationRoute: true };
    const row = await keyLookup(env.DB, credentials, Date.now(), `, ${guardCondition(credentials, demand)} AS guard_passed`).first<any>();
    expect(row.m_level).toBe(1);
    expect(row.guard_passed).toBe(0);
  });
});

describe("a project that takes its organization's organization-level rows", () => {
  it("reads them too (a second round trip, only for such a project)", async () => {
    const patched = await call(`/api/projects/${owner.projectId}/`, {
      key: owner.key,
      method: "PATCH",
      body: { receive_org_level_activity_logs: true },
    });
    expect(patched.status).toBe(200);
    try {
      const res = await call(`/api/projects/${owner.projectId}/activity_log/?page_size=100`, { key: owner.key });
      expect(res.status).toBe(200);
      expect(res.body.results.some((r: any) => r.team_id === null)).toBe(true);
      expect(roundTrips(res.headers)).toBe(2);
    } finally {
      await call(`/api/projects/${owner.projectId}/`, {
        key: owner.key,
        method: "PATCH",
        body: { receive_org_level_activity_logs: false },
      });
    }
  });
});

describe("D1 read replication (Sessions API)", () => {
  it("answers a bookmark after a write and accepts it back to read the write", async () => {
    expect(typeof env.DB.withSession).toBe("function");
    const created = await call("/api/projects/", { key: owner.key, body: { name: "Replicated", organization: owner.organizationId } });
    expect(created.status).toBe(201);
    const bookmark = created.headers.get("x-d1-bookmark");
    expect(bookmark).toMatch(/\S+/);
    const read = await call(`/api/projects/${created.body.id}/`, { key: owner.key, headers: { "x-d1-bookmark": bookmark! } });
    expect(read.status).toBe(200);
    expect(read.body.name).toBe("Replicated");
    expect(read.headers.get("x-d1-bookmark")! >= bookmark!).toBe(true);
  });

  it("refuses what is not a bookmark", async () => {
    const res = await call("/healthz", { headers: { "x-d1-bookmark": "not a bookmark; DROP" } });
    expect(res.status).toBe(400);
    expect(res.body.attr).toBe("X-D1-Bookmark");
  });
});
