import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { refreshSearchIndex } from "../../src/activity/search-index";
import { sealAllShards } from "../../src/audit/sequencer";
import { activityRows, addMember, call, signupFirstUser, type Tenant } from "../helpers";
import { allPages, flagChange, ingest, seedActivity } from "./activity-helpers";

// The oracle for every filter: the project's rows read straight from D1, filtered in JS.
let owner: Tenant;
let member: Tenant;
let base: string;
const T0 = Date.parse("2025-03-01T12:00:00Z");
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

beforeAll(async () => {
  owner = await signupFirstUser();
  member = await addMember(owner, 1);
  base = `/api/projects/${owner.projectId}/advanced_activity_logs/`;
  await seedActivity(
    owner,
    [
      {
        scope: "FeatureFlag",
        activity: "created",
        item_id: "r01",
        created_at: at(1),
        detail: { name: "new-checkout-flow", changes: [{ type: "FeatureFlag", action: "created" }] },
      },
      {
        scope: "FeatureFlag",
        activity: "updated",
        item_id: "r02",
        created_at: at(2),
        detail: { name: "new-checkout-flow", changes: [flagChange("active", false, true), flagChange("rollout_percentage", 0, 50)] },
      },
    ],
    { "X-PostHog-Client": "sdk", "CF-Connecting-IP": "10.0.0.1" },
  );
  await seedActivity(
    owner,
    [
      {
        scope: "FeatureFlag",
        activity: "updated",
        item_id: "r03",
        user: member.userId,
        was_impersonated: true,
        created_at: at(3),
        detail: { name: "pricing-page", changes: [flagChange("rollout_percentage", "50", 100)] },
      },
      {
        scope: "Insight",
        activity: "created",
        item_id: "r04",
        user: member.userId,
        created_at: at(4),
        detail: { name: "Weekly signups", short_id: "ab12", context: { dashboard: { id: 7, tags: ["growth", "q3"] } } },
      },
    ],
    { "X-PostHog-Client": "mcp", "CF-Connecting-IP": "10.0.0.2" },
  );
  await seedActivity(owner, [
    {
      scope: "Insight",
      activity: "deleted",
      item_id: "r05",
      created_at: at(5),
      detail: { name: "Old insight", changes: [{ type: "Insight", action: "deleted" }] },
    },
    {
      scope: "Dashboard",
      activity: "updated",
      item_id: "r06",
      is_system: true,
      created_at: at(6),
      detail: { name: "Main", changes: [{ type: "Dashboard", action: "changed", field: "pinned", before: false, after: true }] },
    },
    {
      scope: "Notebook",
      activity: "commented",
      item_id: "r08",
      user: member.userId,
      created_at: at(8),
      detail: {
        name: "Post-mortem CHECKOUT",
        changes: [{ type: "Notebook", action: "changed", field: "content", before: "a", after: "b" }],
      },
    },
  ]);
  await seedActivity(owner, [
    {
      scope: "Action",
      activity: "updated",
      item_id: "r09",
      created_at: at(9),
      detail: { changes: [0, 1, 2, 3, 4, 5].map((n) => ({ type: "Action", action: "changed", field: `f${n}` })) },
    },
  ]);
  await seedActivity(
    owner,
    [
      {
        scope: "Dashboard",
        activity: "exported",
        item_id: "r07",
        created_at: at(7),
        detail: { name: "Main", trigger: { job_type: "export", job_id: "j1", payload: { rows: 5 } } },
      },
    ],
    {
      "X-PostHog-Client": "terraform",
      "CF-Connecting-IP": "192.168.1.20",
    },
  );
});

type Row = Record<string, any>;
const projectRows = async () => (await activityRows()).filter((r) => r.team_id === owner.projectId);
const newestFirst = (rows: Row[]) => [...rows].sort((a, b) => b.created_at - a.created_at || (b.id < a.id ? -1 : 1)).map((r) => r.id);

async function expectFilter(query: string, predicate: (row: Row) => boolean) {
  const expected = newestFirst((await projectRows()).filter(predicate));
  const got = await allPages(`${base}?${query}`, owner.key);
  expect(got.map((r) => r.id)).toEqual(expected);
  return got;
}

const detailText = (row: Row) => JSON.stringify(row.detail ?? {}).toLowerCase();
const changes = (row: Row): Row[] => row.detail?.changes ?? [];
const df = (filters: unknown) => `detail_filters=${encodeURIComponent(JSON.stringify(filters))}`;

describe("advanced_activity_logs filters (project)", () => {
  it("dates are inclusive bounds", async () => {
    await expectFilter(`start_date=${at(3)}&end_date=${at(6)}`, (r) => r.created_at >= T0 + 3 * 60_000 && r.created_at <= T0 + 6 * 60_000);
    const rows = await expectFilter(
      `start_date=${encodeURIComponent("2025-03-01T12:05:00+00:00")}`,
      (r) => r.created_at >= T0 + 5 * 60_000,
    );
    expect(rows.length).toBeGreaterThan(3);
    await expectFilter("end_date=2025-03-01", (r) => r.created_at <= Date.parse("2025-03-01T00:00:00Z"));
  });

  it("users take UUIDs as repeated params, a comma list or a JSON array", async () => {
    const mine = (r: Row) => r.user_id === member.userId;
    await expectFilter(`users=${member.userUuid}`, mine);
    const both = (r: Row) => r.user_id === member.userId || r.user_id === owner.userId;
    await expectFilter(`users=${member.userUuid}&users=${owner.userUuid}`, both);
    await expectFilter(`users=${member.userUuid},${owner.userUuid}`, both);
    await expectFilter(`users=${encodeURIComponent(JSON.stringify([member.userUuid, owner.userUuid]))}`, both);
    const bad = await call(`${base}?users=not-a-uuid`, { key: owner.key });
    expect(bad.status).toBe(400);
    expect(bad.body.attr).toBe("users__0");
  });

  it("scopes, activities, clients and item_ids", async () => {
    await expectFilter("scopes=Insight,Notebook", (r) => ["Insight", "Notebook"].includes(r.scope));
    await expectFilter("activities=updated", (r) => r.activity === "updated");
    await expectFilter("clients=mcp&clients=terraform", (r) => ["mcp", "terraform"].includes(r.client));
    await expectFilter("item_ids=r02,r07", (r) => ["r02", "r07"].includes(r.item_id));
  });

  it("ip_addresses match exactly or with * wildcards, ORed", async () => {
    await expectFilter("ip_addresses=10.0.0.2", (r) => r.ip_address === "10.0.0.2");
    await expectFilter("ip_addresses=192.168.*,10.0.0.1", (r) => r.ip_address === "10.0.0.1" || r.ip_address?.startsWith("192.168."));
    // A prefix is a range of the ip index; a wildcard inside the value is tested on each row instead.
    const prefixed = await expectFilter("ip_addresses=10.0.*", (r) => r.ip_address?.startsWith("10.0.") ?? false);
    expect(prefixed.length).toBeGreaterThan(1);
    await expectFilter("ip_addresses=10.*.0.2", (r) => r.ip_address === "10.0.0.2");
    const org = await allPages(`/api/organizations/${owner.organizationId}/advanced_activity_logs/?ip_addresses=10.0.0.*`, owner.key);
    expect(org.map((r) => r.id)).toEqual(prefixed.map((r) => r.id));
    const bad = await call(`${base}?ip_addresses=300.1.1.1`, { key: owner.key });
    expect(bad.body).toMatchObject({ type: "validation_error", attr: "ip_addresses__0" });
  });

  it("was_impersonated and is_system are true/false, unset or null for no filter", async () => {
    await expectFilter("was_impersonated=true", (r) => r.was_impersonated === 1);
    await expectFilter("was_impersonated=false", (r) => r.was_impersonated === 0);
    await expectFilter("is_system=1", (r) => r.is_system === 1);
    await expectFilter("is_system=null", () => true);
    expect((await call(`${base}?is_system=maybe`, { key: owner.key })).body.attr).toBe("is_system");
  });

  const searches = async () => {
    const rows = await expectFilter("search_text=CHECKOUT", (r) => detailText(r).includes("checkout"));
    expect(rows.map((r) => r.item_id).sort()).toEqual(["r01", "r02", "r08"]);
    await expectFilter("search_text=ab", (r) => detailText(r).includes("ab"));
    await expectFilter("search_text=new-checkout-f", (r) => detailText(r).includes("new-checkout-f"));
    await expectFilter(`search_text=${encodeURIComponent('"field":"pinned"')}`, (r) => detailText(r).includes('"field":"pinned"'));
    await expectFilter(`search_text=${encodeURIComponent("a long search text that asks for a sample of its many trigrams")}`, () => false);
    await expectFilter("search_text=zzzzzz", () => false);
  };

  it("search_text is a case-insensitive substring of detail, short or long, before rows are indexed", searches);

  it("search_text answers the same from the trigram index, and from index plus new rows", async () => {
    expect(await refreshSearchIndex(env.DB, 5)).toBe(5);
    await searches();
    expect(await refreshSearchIndex(env.DB, 10_000)).toBeGreaterThan(0);
    expect(await refreshSearchIndex(env.DB, 10_000)).toBe(0);
    await searches();
    const indexed = await env.DB.prepare("SELECT count(*) AS n FROM activity_log_search").first<{ n: number }>();
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM activity_log").first<{ n: number }>();
    expect(indexed!.n).toBe(rows!.n);
  });

  it("never indexes a row twice when indexing runs overlap", async () => {
    await ingest(owner, [{ scope: "Tag", activity: "created", item_id: "t-overlap", detail: { name: "overlapping-tag" } }]);
    const runs = await Promise.all([refreshSearchIndex(env.DB, 1000), refreshSearchIndex(env.DB, 1000), refreshSearchIndex(env.DB, 1000)]);
    expect(runs.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    const indexed = await env.DB.prepare("SELECT count(*) AS n FROM activity_log_search").first<{ n: number }>();
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM activity_log").first<{ n: number }>();
    expect(indexed!.n).toBe(rows!.n);
    await expectFilter("search_text=overlapping", (r) => r.item_id === "t-overlap");
  });

  it("detail_filters: exact (the default), in and contains on dotted paths", async () => {
    await expectFilter(df({ name: { operation: "exact", value: "new-checkout-flow" } }), (r) => r.detail?.name === "new-checkout-flow");
    await expectFilter(df({ name: { value: "Main" } }), (r) => r.detail?.name === "Main");
    await expectFilter(df({ name: { operation: "in", value: ["Main", "pricing-page"] } }), (r) =>
      ["Main", "pricing-page"].includes(r.detail?.name),
    );
    await expectFilter(df({ name: { operation: "contains", value: "CHECK" } }), (r) =>
      String(r.detail?.name ?? "")
        .toLowerCase()
        .includes("check"),
    );
    await expectFilter(df({ "context.dashboard.id": { value: "7" } }), (r) => r.detail?.context?.dashboard?.id === 7);
    await expectFilter(df({ "trigger.payload.rows": { operation: "in", value: ["5"] } }), (r) => r.detail?.trigger?.payload?.rows === 5);
    await expectFilter(df({ name: { value: null } }), () => true);
  });

  it("detail_filters on arrays: [] paths, type-insensitive values, contains on the array text", async () => {
    await expectFilter(df({ "changes[].field": { value: "rollout_percentage" } }), (r) =>
      changes(r).some((c) => c.field === "rollout_percentage"),
    );
    await expectFilter(df({ "changes[].field": { operation: "in", value: ["pinned", "content"] } }), (r) =>
      changes(r).some((c) => ["pinned", "content"].includes(c.field)),
    );
    // 50 matches the string "50" and the number 50; "true" matches true.
    await expectFilter(df({ "changes[].before": { value: 50 } }), (r) => changes(r).some((c) => c.before === 50 || c.before === "50"));
    await expectFilter(df({ "changes[].after": { value: "true" } }), (r) => changes(r).some((c) => c.after === true || c.after === "true"));
    await expectFilter(df({ "context.dashboard.tags[]": { operation: "contains", value: "Q3" } }), (r) =>
      (r.detail?.context?.dashboard?.tags ?? []).includes("q3"),
    );
    await expectFilter(df({ "changes[].field": { value: "active" }, name: { value: "new-checkout-flow" } }), (r) => r.item_id === "r02");
  });

  it("array paths look at the first five elements, as PostHog does; contains reads the whole array", async () => {
    await expectFilter(df({ "changes[].field": { value: "f4" } }), (r) => r.item_id === "r09");
    await expectFilter(df({ "changes[].field": { value: "f5" } }), () => false);
    await expectFilter(df({ "changes[].field": { operation: "contains", value: "f5" } }), (r) => r.item_id === "r09");
  });

  it("refuses filters too large for one statement", async () => {
    const values = Array.from({ length: 5000 }, (_, i) => `value-${i}-${"x".repeat(20)}`);
    const res = await call(`${base}?${df({ name: { operation: "in", value: values } })}`, { key: owner.key });
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/too large/);
  });

  it("detail_filters limits are 400s on detail_filters", async () => {
    const bad = async (filters: unknown) => {
      const res = await call(`${base}?${typeof filters === "string" ? `detail_filters=${filters}` : df(filters)}`, { key: owner.key });
      expect(res.status).toBe(400);
      expect(res.body.attr).toBe("detail_filters");
      return res.body.detail as string;
    };
    expect(await bad("{nope")).toMatch(/valid JSON/);
    expect(await bad([1])).toMatch(/must be an object/);
    expect(await bad(Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`f${i}`, { value: 1 }])))).toMatch(/at most 100/);
    expect(await bad({ ["a".repeat(501)]: { value: 1 } })).toMatch(/at most 500/);
    expect(await bad({ name__icontains: { value: 1 } })).toMatch(/contains '__'/);
    expect(await bad({ "name.regex": { value: ".*" } })).toMatch(/reserved segment 'regex'/);
    expect(await bad({ "a..b": { value: 1 } })).toMatch(/empty segment/);
    expect(await bad({ "a[].b[].c[].d[].e": { value: 1 } })).toMatch(/nests too many arrays/);
    expect(await bad({ name: { operation: "startswith", value: "x" } })).toMatch(/Unsupported detail filter operation/);
    expect(await bad({ name: "x" })).toMatch(/must be an object/);
    expect(await bad({ name: { value: "a\0b" } })).toMatch(/NUL/);
    // Three nested arrays are allowed.
    expect((await call(`${base}?${df({ "a[].b[].c[].d": { value: 1 } })}`, { key: owner.key })).status).toBe(200);
  });

  it("combines filters with AND, accepts hogql_filter and ignores team_ids on a project", async () => {
    await expectFilter(
      `scopes=FeatureFlag&activities=updated&users=${owner.userUuid}&search_text=checkout&hogql_filter=${encodeURIComponent("event = 'x'")}`,
      (r) => r.scope === "FeatureFlag" && r.activity === "updated" && r.user_id === owner.userId && detailText(r).includes("checkout"),
    );
    await expectFilter(
      `scopes=Insight&clients=mcp&start_date=${at(4)}`,
      (r) => r.scope === "Insight" && r.client === "mcp" && r.created_at >= T0 + 4 * 60_000,
    );
    await expectFilter(`item_ids=r03,r04&was_impersonated=true`, (r) => ["r03", "r04"].includes(r.item_id) && r.was_impersonated === 1);
    await expectFilter("team_ids=999", () => true);
  });

  it("rows carry the seed shape with the acting user, and recorded_by (none for these seeded rows)", async () => {
    await sealAllShards(env);
    const res = await call(`${base}?item_ids=r03`, { key: owner.key });
    expect(res.body.results[0]).toEqual({
      id: expect.any(String),
      user: expect.objectContaining({ id: member.userId, uuid: member.userUuid, first_name: "Mem", last_name: "Ber" }),
      unread: true,
      organization_id: owner.organizationId,
      team_id: owner.projectId,
      was_impersonated: true,
      is_system: false,
      client: "mcp",
      ip_address: "10.0.0.2",
      activity: "updated",
      item_id: "r03",
      scope: "FeatureFlag",
      detail: { name: "pricing-page", changes: [flagChange("rollout_percentage", "50", 100)] },
      created_at: at(3),
      recorded_by: null,
      sequence: expect.any(Number),
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });
});
