import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { BatchedReads } from "../../src/alerts/batched-reads";
import { createDb } from "../../src/db/client";

describe("batched reads", () => {
  it("sends every task's query of a round in one D1 batch, round after round", async () => {
    const reads = new BatchedReads(env.DB);
    const db = reads.facade(createDb(env.DB));
    const batch = vi.spyOn(env.DB, "batch");
    const results = await reads.run(
      [1, 2, 3].map((n) => async () => {
        const first = await db.get<{ v: number }>(sql`SELECT ${n} AS v`);
        const rows = await db.all<{ v: number }>(sql`SELECT value AS v FROM json_each(${JSON.stringify([n, n * 10])})`);
        return [first?.v, rows.map((r) => r.v)];
      }),
    );
    expect(results.map((r) => (r.status === "fulfilled" ? r.value : null))).toEqual([
      [1, [1, 10]],
      [2, [2, 20]],
      [3, [3, 30]],
    ]);
    expect(batch.mock.calls.map(([statements]) => statements.length)).toEqual([3, 3]);
    batch.mockRestore();
  });

  it("fails only the task whose statement fails", async () => {
    const reads = new BatchedReads(env.DB);
    const db = reads.facade(createDb(env.DB));
    const [bad, good] = await reads.run([() => db.get(sql`SELECT * FROM no_such_table`), () => db.get<{ v: number }>(sql`SELECT 7 AS v`)]);
    expect(bad?.status).toBe("rejected");
    expect(good).toEqual({ status: "fulfilled", value: { v: 7 } });
  });
});
