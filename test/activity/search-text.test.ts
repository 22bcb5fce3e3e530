import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { refreshSearchIndex } from "../../src/activity/search-index";
import { call, signupFirstUser, type Tenant } from "../helpers";
import { allPages, seedActivity } from "./activity-helpers";

// search_text counts each trigram's rows inside the page statement: a text with a rare trigram is
// answered from the rarest three in the trigram index (plus the rows not indexed yet), a text
// whose every trigram has over 2,000 rows walks the time index. Both sides, in one statement,
// must give exactly the rows whose detail contains the text.
let owner: Tenant;
let base: string;
const T0 = Date.parse("2025-06-01T00:00:00Z");
const entry = (i: number, name: string) => ({
  scope: "FeatureFlag",
  activity: "updated",
  item_id: `f${i}`,
  detail: { name },
  created_at: new Date(T0 + i * 1000).toISOString(),
});
const itemIds = (rows: { item_id: string }[]) => rows.map((r) => r.item_id);
const count = async (text: string) =>
  (await call(`${base}?search_text=${encodeURIComponent(text)}&page=1&page_size=5`, { key: owner.key })).body.count;

beforeAll(async () => {
  owner = await signupFirstUser();
  base = `/api/projects/${owner.projectId}/advanced_activity_logs/`;
  const many = Array.from({ length: 2100 }, (_, i) => entry(i, `pricing-plan-${i}`));
  for (let i = 0; i < many.length; i += 1000) await seedActivity(owner, many.slice(i, i + 1000));
  // The decoy holds every trigram of "pricing-plan-quokka" (so the rarest three too) but not the text.
  await seedActivity(owner, [entry(5000, "pricing-plan-quokka"), entry(5001, "plan-quokka pricing")]);
});

describe("search_text over rare and common trigrams", () => {
  const searches = async (rare: string[], common: number) => {
    expect(itemIds(await allPages(`${base}?search_text=PRICING-plan-Quokka`, owner.key))).toEqual(rare);
    expect(await count("pricing-plan-quokka")).toBe(rare.length);
    // Every trigram of "pricing-plan" is in over 2,000 rows: the time walk, counted once.
    const page = await call(`${base}?search_text=pricing-plan&page=2&page_size=100`, { key: owner.key });
    expect(page.body.count).toBe(common);
    expect(itemIds(page.body.results)).toEqual(Array.from({ length: 100 }, (_, i) => `f${common - 101 - i}`));
    expect(await count("quokka")).toBe(rare.length + 1);
  };

  it("answers the same before the rows are indexed", () => searches(["f5000"], 2101));

  it("answers the same from the trigram index, and from the index plus new rows", async () => {
    expect(await refreshSearchIndex(env.DB, 10_000)).toBeGreaterThanOrEqual(2102);
    await searches(["f5000"], 2101);
    await seedActivity(owner, [entry(5002, "Pricing-Plan-Quokka-2")]);
    await searches(["f5002", "f5000"], 2102);
    const org = await allPages(`/api/organizations/${owner.organizationId}/advanced_activity_logs/?search_text=quokka-2`, owner.key);
    expect(itemIds(org)).toEqual(["f5002"]);
  });
});
