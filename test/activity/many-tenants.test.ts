import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { addMember, call, keyWithScopes, signupFirstUser, type Tenant } from "../helpers";
import { allPages, ingest } from "./activity-helpers";

// A tenant with 1,000 projects and a user in 100 organizations: before, every statement had one
// UNION ALL branch per project or organization, and D1 refuses more than 5 (a 500 from 6 on).
const PROJECTS = 1000;
const ORGANIZATIONS = 100;

let owner: Tenant;
let member: Tenant;
let projectIds: number[];
let orgPath: string;
const withRows: number[] = [];

/** A random UUID v4 in SQL, so that the seeded rows are as the API would have written them. */
const SQL_UUID = `lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-a' || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))`;

/** Inserts `n` projects into the organization in one statement (the API would take minutes). */
async function insertProjects(organizationId: string, n: number): Promise<number[]> {
  const now = Date.now();
  await env.DB.prepare(
    `WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < ?2)
     INSERT INTO projects (uuid, organization_id, name, api_token, timezone, logs_retention_days, created_at, updated_at)
     SELECT ${SQL_UUID}, ?1, 'Project ' || n, 'phc_' || ?1 || '_' || n, 'UTC', 30, ?3, ?3 FROM i`,
  )
    .bind(organizationId, n, now)
    .run();
  const { results } = await env.DB.prepare("SELECT id FROM projects WHERE organization_id = ?1 ORDER BY id")
    .bind(organizationId)
    .all<{ id: number }>();
  return results.map((r) => r.id);
}

beforeAll(async () => {
  owner = await signupFirstUser();
  member = await addMember(owner, 1);
  projectIds = await insertProjects(owner.organizationId, PROJECTS - 1);
  orgPath = `/api/organizations/${owner.organizationId}/advanced_activity_logs/`;
  // Rows in 12 projects spread over the list, two of them with an ip address.
  for (let i = 0; i < 12; i++) {
    const projectId = projectIds[i * 83] as number;
    withRows.push(projectId);
    await ingest(
      owner,
      [{ scope: "FeatureFlag", activity: "updated", item_id: `f${i}`, detail: { name: `flag-${i}-checkout` } }],
      {
        "cf-connecting-ip": i < 2 ? `203.0.113.${i + 1}` : "198.51.100.7",
      },
      projectId,
    );
  }
  // The owner joins 100 more organizations, each with a project and a row.
  const now = Date.now();
  const organizations = Array.from({ length: ORGANIZATIONS }, () => crypto.randomUUID());
  await env.DB.prepare(
    `INSERT INTO organizations (id, name, slug, created_at, updated_at)
     SELECT j.value, 'Org ' || j.key, ?2 || '-o-' || j.key, ?3, ?3 FROM json_each(?1) AS j`,
  )
    .bind(JSON.stringify(organizations), owner.organizationId, now)
    .run();
  await env.DB.prepare(
    `INSERT INTO organization_memberships (id, organization_id, user_id, level, joined_at, updated_at)
     SELECT ${SQL_UUID}, j.value, ?2, 15, ?3, ?3 FROM json_each(?1) AS j`,
  )
    .bind(JSON.stringify(organizations), owner.userId, now)
    .run();
}, 120_000);

const teamIds = (n: number) => encodeURIComponent(JSON.stringify(projectIds.slice(0, n)));

describe("an organization with 1,000 projects", { timeout: 120_000 }, () => {
  it("reads the organization log with team_ids of 6, 200 and 1,000 projects, with every plan", async () => {
    const all = await allPages(`${orgPath}?page_size=5`, owner.key);
    expect(all.filter((r) => r.scope === "FeatureFlag")).toHaveLength(12);
    for (const n of [6, 200, PROJECTS]) {
      const expected = all.filter((r) => projectIds.slice(0, n).includes(r.team_id)).map((r) => r.id);
      expect(expected.length).toBeGreaterThan(0);
      const rows = await allPages(`${orgPath}?team_ids=${teamIds(n)}&page_size=3`, owner.key);
      expect(rows.map((r) => r.id)).toEqual(expected);
      const counted = await call(`${orgPath}?team_ids=${teamIds(n)}&page=1&page_size=2`, { key: owner.key });
      expect(counted.status, JSON.stringify(counted.body)).toBe(200);
      expect(counted.body.count).toBe(expected.length);
      for (const filter of ["search_text=checkout", "ip_addresses=203.0.113.*", "item_ids=f0,f1", "scopes=FeatureFlag"]) {
        const res = await call(`${orgPath}?team_ids=${teamIds(n)}&${filter}&page=1`, { key: owner.key });
        expect(res.status, `${filter} ${JSON.stringify(res.body)}`).toBe(200);
        expect(res.body.count).toBe(res.body.results.length);
      }
    }
    const ip = await call(`${orgPath}?team_ids=${teamIds(PROJECTS)}&ip_addresses=203.0.113.*`, { key: owner.key });
    expect(ip.body.results.map((r: any) => r.item_id).sort()).toEqual(["f0", "f1"]);
  });

  it("takes 1,000 team_ids and ip_addresses and answers 400 beyond", async () => {
    const many = projectIds.map(String).join(",");
    const all = await call(`${orgPath}?team_ids=${many}`, { key: owner.key });
    expect(all.status, JSON.stringify(all.body)).toBe(200);
    const tooMany = await call(`${orgPath}?team_ids=${many},1`, { key: owner.key });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toMatchObject({ type: "validation_error", attr: "team_ids" });
    const wildcards = Array.from({ length: 150 }, (_, i) => `10.${i}.*`).join(",");
    const ips = await call(`${orgPath}?ip_addresses=${wildcards},198.51.100.7`, { key: owner.key });
    expect(ips.status).toBe(200);
    expect(ips.body.results).toHaveLength(10);
  });

  it("serves a key restricted to 1,000 projects: the SD Elements feed over all of them; organization routes stay closed to it", async () => {
    const key = await keyWithScopes(owner, ["activity_log:read"], { scoped_teams: projectIds });
    const feed = await call("/api/v2/activities/?page_size=50&name=UpdatedFeatureFlagActivity", {
      key: null,
      headers: { authorization: `Token ${key}` },
    });
    expect(feed.status, JSON.stringify(feed.body).slice(0, 500)).toBe(200);
    expect(feed.body.results.filter((r: any) => r.name === "UpdatedFeatureFlagActivity")).toHaveLength(12);
    const project = await call(`/api/projects/${projectIds[999]}/activity_log/`, { key });
    expect(project.status).toBe(200);
    expect((await call(`${orgPath}?page=1`, { key })).status).toBe(403);
  });

  it("serves the SD Elements feed to a member of it, and to a user in 100 organizations", async () => {
    for (const tenant of [member, owner]) {
      const res = await call("/api/v2/activities/?page_size=50&name=UpdatedFeatureFlagActivity", {
        key: null,
        headers: { authorization: `Token ${tenant.key}` },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(
        res.body.results.filter((r: any) => r.name === "UpdatedFeatureFlagActivity"),
        JSON.stringify(res.body).slice(0, 3000),
      ).toHaveLength(12);
    }
    const dated = await call("/api/v2/activities/?date_from=2000-01-01&date_to=2100-01-01", {
      key: null,
      headers: { authorization: `Token ${owner.key}` },
    });
    expect(dated.status).toBe(200);
    const organizations = await call("/api/organizations/?limit=200", { key: owner.key });
    expect(organizations.status).toBe(200);
    expect(organizations.body.count).toBe(ORGANIZATIONS + 1);
  });
});
