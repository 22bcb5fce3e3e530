import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { sealPending } from "../../src/activity/chain";
import { sequencerStub } from "../../src/audit/sequencer";
import { call, signupFirstUser, type Tenant } from "../helpers";
import { ingest } from "./activity-helpers";

let owner: Tenant;

beforeAll(async () => {
  owner = await signupFirstUser();
});

const chainOf = async (organizationId: string) =>
  (
    await env.DB.prepare(
      "SELECT c.sequence, c.hash, a.seq, a.item_id FROM activity_chain AS c JOIN activity_log AS a ON a.seq = c.seq WHERE c.organization_id = ?1 ORDER BY c.sequence",
    )
      .bind(organizationId)
      .all<{ sequence: number; hash: string; seq: number; item_id: string | null }>()
  ).results;

describe("activity chain", () => {
  it("seals rows within a second of the write, gapless from 1 in commit order", async () => {
    const started = Date.now();
    await ingest(owner, [{ scope: "Flag", activity: "created", item_id: "c-1" }]);
    let rows = await chainOf(owner.organizationId);
    while (!rows.some((r) => r.item_id === "c-1") && Date.now() - started < 1000) {
      await new Promise((r) => setTimeout(r, 20));
      rows = await chainOf(owner.organizationId);
    }
    expect(Date.now() - started).toBeLessThan(1000);
    expect(rows.map((r) => r.sequence)).toEqual(rows.map((_, i) => i + 1));
    expect(rows.map((r) => r.seq)).toEqual([...rows.map((r) => r.seq)].sort((a, b) => a - b));
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.hash))).toBe(true);
  });

  it("50 concurrent writers never fork the chain: no duplicate sequence, no gap", async () => {
    await Promise.all(
      Array.from({ length: 50 }, (_, w) =>
        ingest(
          owner,
          Array.from({ length: 5 }, (_, i) => ({ scope: "Flag", activity: "updated", item_id: `w${w}-${i}` })),
        ),
      ),
    );
    await sequencerStub(env).seal();
    const rows = await chainOf(owner.organizationId);
    const written = await env.DB.prepare("SELECT count(*) AS n FROM activity_log WHERE organization_id = ?1")
      .bind(owner.organizationId)
      .first<{ n: number }>();
    expect(rows.length).toBe(written?.n);
    expect(rows.map((r) => r.sequence)).toEqual(rows.map((_, i) => i + 1));
    expect(new Set(rows.map((r) => r.hash)).size).toBe(rows.length);
    expect(await sealPending(env.DB, 100)).toBe(0);
  });
});
