import { beforeAll, describe, expect, it } from "vitest";
import { call, signupFirstUser, type Tenant } from "../helpers";
import { allPages, seedActivity } from "./activity-helpers";

// ip_addresses takes the rows of the addresses from the ip index while they are at most 2,000,
// and walks the time index past that: both sides of that choice, in one query, give the same rows.
let owner: Tenant;
let base: string;
const T0 = Date.parse("2025-06-01T00:00:00Z");
const entry = (i: number) => ({
  scope: "FeatureFlag",
  activity: "updated",
  item_id: `f${i}`,
  created_at: new Date(T0 + i * 1000).toISOString(),
});

beforeAll(async () => {
  owner = await signupFirstUser();
  base = `/api/projects/${owner.projectId}/advanced_activity_logs/`;
  const many = Array.from({ length: 2100 }, (_, i) => entry(i));
  for (let i = 0; i < many.length; i += 1000) await seedActivity(owner, many.slice(i, i + 1000), { "CF-Connecting-IP": "172.16.0.1" });
  await seedActivity(owner, [entry(5000), entry(5001)], { "CF-Connecting-IP": "172.17.0.5" });
  await seedActivity(owner, [entry(5002)], { "CF-Connecting-IP": "10.1.1.1" });
});

describe("ip_addresses over few and many rows", () => {
  it("counts and pages the many rows of a prefix through the time walk", async () => {
    const page = await call(`${base}?ip_addresses=172.16.*&page=2&page_size=100`, { key: owner.key });
    expect(page.body.count).toBe(2100);
    expect(page.body.results.map((r: { item_id: string }) => r.item_id)).toEqual(Array.from({ length: 100 }, (_, i) => `f${1999 - i}`));
    const both = await call(`${base}?ip_addresses=172.*&page=1&page_size=3`, { key: owner.key });
    expect(both.body.count).toBe(2102);
    expect(both.body.results.map((r: { item_id: string }) => r.item_id)).toEqual(["f5001", "f5000", "f2099"]);
  });

  it("takes the few rows of a prefix or an address from the index", async () => {
    const rows = await allPages(`${base}?ip_addresses=172.17.*,10.1.1.1`, owner.key);
    expect(rows.map((r) => r.item_id)).toEqual(["f5002", "f5001", "f5000"]);
    const count = await call(`${base}?ip_addresses=172.17.0.5&page=1`, { key: owner.key });
    expect(count.body.count).toBe(2);
    const org = await call(`/api/organizations/${owner.organizationId}/advanced_activity_logs/?ip_addresses=172.17.*`, { key: owner.key });
    expect(org.body.results.map((r: { item_id: string }) => r.item_id)).toEqual(["f5001", "f5000"]);
  });
});
