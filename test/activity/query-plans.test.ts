import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type ActivityFilters, countStatement, type Partition, pageStatement, planQuery } from "../../src/activity/activity.queries";

// The statements an organization's reads compile to, for 1, 10 and 1,000 projects: the same size
// whatever the count (the tenants are one JSON parameter), and every walk of activity_log on one of
// its indexes. EXPLAIN QUERY PLAN runs on the test's D1, with the migrations' indexes.

interface Compiled {
  sql: string;
  params: unknown[];
}

/** The SQL and parameters a statement builder hands to D1, captured instead of run. */
function compile(build: (db: D1Database) => D1PreparedStatement): Compiled {
  let compiled: Compiled | undefined;
  const capture = {
    prepare: (sql: string) => ({
      bind: (...params: unknown[]) => {
        compiled = { sql, params };
        return {} as D1PreparedStatement;
      },
    }),
  } as unknown as D1Database;
  build(capture);
  if (!compiled) throw new Error("nothing compiled");
  return compiled;
}

async function queryPlan({ sql, params }: Compiled): Promise<string[]> {
  const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
    .bind(...params)
    .all<{ detail: string }>();
  return results.map((r) => r.detail);
}

const ORGANIZATION = "0190d8f4-0000-7000-8000-000000000001";
const projects = (n: number): Partition[] =>
  Array.from({ length: n }, (_, i) => ({ column: "team_id", value: i + 1, organizationId: ORGANIZATION }));

const FILTERS: Record<string, ActivityFilters> = {
  "no filter": {},
  scopes: { scopes: ["FeatureFlag"], activities: ["updated"] },
  ip_addresses: { ipAddresses: ["10.0.0.*"] },
  search_text: { searchText: "checkout" },
  item_ids: { itemIds: ["f1"] },
};

/** A full walk of activity_log (not an index search, not a rowid lookup): what must never appear. */
const FULL_SCAN = /^SCAN (a|activity_log|s)\b(?!.*USING (COVERING )?INDEX)/;

describe("query plans for an organization's projects", () => {
  for (const [name, filters] of Object.entries(FILTERS)) {
    it(`${name}: one statement of the same size for 1, 10 and 1,000 projects, on the indexes`, async () => {
      const sizes: number[] = [];
      for (const n of [1, 10, 1000]) {
        const partitions = projects(n);
        const plan = planQuery(filters, partitions);
        const page = compile((db) => pageStatement(db, plan, partitions, filters, { direction: "desc", limit: 100 }));
        const count = compile((db) => countStatement(db, plan, partitions, filters));
        expect(page.params.length).toBeLessThanOrEqual(100);
        expect(count.params.length).toBeLessThanOrEqual(100);
        if (n > 1) sizes.push(page.sql.length);
        for (const statement of [page, count]) {
          const details = await queryPlan(statement);
          expect(
            details.filter((d) => FULL_SCAN.test(d)),
            details.join("\n"),
          ).toEqual([]);
          expect(
            details.some((d) => /USING (COVERING )?INDEX|USING INTEGER PRIMARY KEY|VIRTUAL TABLE/.test(d)),
            details.join("\n"),
          ).toBe(true);
        }
      }
      // 10 and 1,000 projects compile to the same statement text: only the JSON parameter grows.
      expect(new Set(sizes).size).toBe(1);
    });
  }
});
