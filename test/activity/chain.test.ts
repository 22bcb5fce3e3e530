import { env } from "cloudflare:workers";
import ExcelJS from "exceljs";
import { beforeAll, describe, expect, it } from "vitest";
import { CHAIN_COLUMNS, chainMarkKey, sealBacklog, sealPending, verifyChain } from "../../src/activity/chain";
import { signCheckpoints } from "../../src/activity/checkpoints.job";
import { purgeExpiredActivity } from "../../src/activity/retention.job";
import { CHAIN_SHARDS, chainShardOf, sealAllShards, sequencerStub } from "../../src/audit/sequencer";
import {
  type ChainRowInput,
  chainHash,
  GENESIS_HASH,
  type SignedCheckpoint,
  verifyCheckpointSignature,
  verifyExportRows,
  xlsxRecords,
} from "../../src/lib/chain-hash";
import { parseCsv } from "../csv";
import { addMember, call, fetchWorker, otherOrganization, signupFirstUser, type Tenant } from "../helpers";
import { createDestination, eventually, interceptFetch } from "../notifications/notify-helpers";
import { ingest, organizationWithHistory, waitForExport } from "./activity-helpers";

let owner: Tenant;

beforeAll(async () => {
  owner = await signupFirstUser();
});

const chainOf = async (organizationId: string) =>
  (
    await env.DB.prepare(
      "SELECT c.sequence, c.hash, c.hash_version, a.seq, a.item_id FROM activity_chain AS c JOIN activity_log AS a ON a.seq = c.seq WHERE c.organization_id = ?1 ORDER BY c.sequence",
    )
      .bind(organizationId)
      .all<{ sequence: number; hash: string; hash_version: number; seq: number; item_id: string | null }>()
  ).results;

const verifyPath = (organizationId: string, query = "") => `/api/organizations/${organizationId}/activity_log/verify/${query}`;

/** An organization of the owner with ten rows `t-1`..`t-10` after its own, all sealed. */
async function sealedOrganization() {
  const org = await otherOrganization(owner);
  await ingest(
    owner,
    Array.from({ length: 10 }, (_, i) => ({ scope: "Flag", activity: "updated", item_id: `t-${i + 1}`, detail: { name: `n${i + 1}` } })),
    {},
    org.projectId,
  );
  await sealAllShards(env);
  return { ...org, chain: await chainOf(org.organizationId) };
}

/** Runs `statement` with the append-only triggers out of the way, as someone with database access could. */
async function bypassingTriggers(statements: D1PreparedStatement[]) {
  const triggers = (
    await env.DB.prepare(
      "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN ('activity_log_append_only', 'activity_log_delete_only_expired', 'activity_chain_append_only', 'activity_chain_delete_with_row')",
    ).all<{ name: string; sql: string }>()
  ).results;
  await env.DB.batch([
    ...triggers.map((t) => env.DB.prepare(`DROP TRIGGER ${t.name}`)),
    ...statements,
    ...triggers.map((t) => env.DB.prepare(t.sql)),
  ]);
}

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

  it("50 concurrent writers and overlapping sealers never fork the chain: no duplicate sequence, no gap", async () => {
    await Promise.all([
      ...Array.from({ length: 50 }, (_, w) =>
        ingest(
          owner,
          Array.from({ length: 5 }, (_, i) => ({ scope: "Flag", activity: "updated", item_id: `w${w}-${i}` })),
        ),
      ),
      // Sealers running beside the sequencer object, as during a deploy: single batches, and
      // multi-batch runs whose writes share a round trip with the next read.
      ...Array.from({ length: 10 }, () => sealPending(env.DB, chainShardOf(owner.organizationId), 20)),
      ...Array.from({ length: 5 }, () => sealBacklog(env.DB, chainShardOf(owner.organizationId), 7)),
    ]);
    await sealAllShards(env);
    const rows = await chainOf(owner.organizationId);
    const written = await env.DB.prepare("SELECT count(*) AS n FROM activity_log WHERE organization_id = ?1")
      .bind(owner.organizationId)
      .first<{ n: number }>();
    expect(rows.length).toBe(written?.n);
    expect(rows.map((r) => r.sequence)).toEqual(rows.map((_, i) => i + 1));
    expect(rows.map((r) => r.seq)).toEqual([...rows.map((r) => r.seq)].sort((a, b) => a - b));
    expect(new Set(rows.map((r) => r.hash)).size).toBe(rows.length);
    expect(await sealPending(env.DB, chainShardOf(owner.organizationId), 100)).toBe(0);
    expect((await call(verifyPath(owner.organizationId), { key: owner.key })).body).toMatchObject({ verified: true, checked: rows.length });
  }, 60_000);

  it("seals and verifies a row holding lone surrogates (which canonicalize refuses), and the rows after it", async () => {
    const org = await otherOrganization(owner);
    // JSON escapes of unpaired surrogates: valid JSON, not valid Unicode.
    const entries = JSON.parse('[{"scope":"Flag","activity":"updated","item_id":"x\\ud800","detail":{"name":"a\\udc00b"}}]');
    await ingest(owner, [...entries, { scope: "Flag", activity: "updated", item_id: "after" }], {}, org.projectId);
    await sealAllShards(env);
    const chain = await chainOf(org.organizationId);
    // (Compared as booleans: a lone surrogate in an assertion's message breaks the test runner's socket.)
    expect(chain.some((r) => r.item_id?.startsWith("x"))).toBe(true);
    expect(chain.some((r) => r.item_id === "after")).toBe(true);
    expect((await call(verifyPath(org.organizationId), { key: owner.key })).body).toMatchObject({ verified: true, checked: chain.length });
  });

  it("reads pending rows within a detail budget: large details are sealed a few per batch, and one larger than the budget alone", async () => {
    await sealAllShards(env);
    const organizationId = crypto.randomUUID();
    const detail = JSON.stringify({ name: "x".repeat(580) });
    // Written straight into D1, so that no write calls the sequencer before this test's sealer.
    await env.DB.prepare(
      `INSERT INTO activity_log (id, organization_id, activity, scope, item_id, detail, created_at)
       SELECT value, ?1, 'x', 'H', value, ?2, ?3 FROM json_each(?4)`,
    )
      .bind(organizationId, detail, Date.now(), JSON.stringify(Array.from({ length: 5 }, () => crypto.randomUUID())))
      .run();
    // A budget of 1,000 characters takes the rows while less than that came before them: two of
    // ~600, then two, then the last; a budget below one row still takes one.
    const counts = [];
    const shard = chainShardOf(organizationId);
    for (let n = await sealPending(env.DB, shard, 100, 1000); n; n = await sealPending(env.DB, shard, 100, 1000)) counts.push(n);
    expect(counts).toEqual([2, 2, 1]);
    expect((await chainOf(organizationId)).map((r) => r.sequence)).toEqual([1, 2, 3, 4, 5]);
    expect(await verifyChain(env.DB, organizationId, {}, 100)).toMatchObject({ verified: true, checked: 5 });
    await env.DB.prepare(
      `INSERT INTO activity_log (id, organization_id, activity, scope, item_id, detail, created_at)
       SELECT value, ?1, 'x', 'H', value, ?2, ?3 FROM json_each(?4)`,
    )
      .bind(organizationId, detail, Date.now(), JSON.stringify([crypto.randomUUID(), crypto.randomUUID()]))
      .run();
    expect(await sealPending(env.DB, shard, 100, 10)).toBe(1);
    expect(await sealPending(env.DB, shard, 100, 10)).toBe(1);
    expect(await sealPending(env.DB, shard, 100, 10)).toBe(0);
  });

  it("seals each shard of organizations in its own sequencer, from its own mark", async () => {
    await sealAllShards(env);
    // Two organizations in different shards (the last character of the id), rows written straight
    // into D1 so that no write kicks a sequencer.
    const idIn = (shard: string) => `${crypto.randomUUID().slice(0, -1)}${shard}`;
    const [first, second] = [idIn("3"), idIn("c")];
    const insert = (organizationId: string, n: number) =>
      env.DB.prepare(
        `INSERT INTO activity_log (id, organization_id, activity, scope, item_id, detail, created_at)
         SELECT value, ?1, 'x', 'S', value, '{}', ?2 FROM json_each(?3)`,
      )
        .bind(organizationId, Date.now(), JSON.stringify(Array.from({ length: n }, () => crypto.randomUUID())))
        .run();
    await insert(first, 3);
    await insert(second, 2);
    const marks = async () =>
      Object.fromEntries(
        (
          await env.DB.prepare("SELECT key, CAST(value AS INTEGER) AS v FROM instance_settings WHERE key LIKE 'activity_chain_seq:%'").all<{
            key: string;
            v: number;
          }>()
        ).results.map((r) => [r.key, r.v]),
      );
    const before = await marks();
    expect(Object.keys(before).sort()).toEqual(CHAIN_SHARDS.map((shard) => chainMarkKey(shard)));
    // The first shard's sequencer seals its organization's rows only, and moves its mark only.
    expect(await sequencerStub(env, "3").seal("3")).toBe(3);
    expect((await chainOf(first)).map((r) => r.sequence)).toEqual([1, 2, 3]);
    expect(await chainOf(second)).toEqual([]);
    const after = await marks();
    expect(after[chainMarkKey("3")]).toBeGreaterThan(before[chainMarkKey("3")]!);
    expect({ ...after, [chainMarkKey("3")]: 0 }).toEqual({ ...before, [chainMarkKey("3")]: 0 });
    expect(await sequencerStub(env, "c").seal("c")).toBe(2);
    expect((await chainOf(second)).map((r) => r.sequence)).toEqual([1, 2]);
    expect(await verifyChain(env.DB, second, {}, 100)).toMatchObject({ verified: true, checked: 2 });
  });

  it("returns sequence and hash in the activity APIs", async () => {
    const { organizationId, projectId, chain } = await sealedOrganization();
    const list = await call(`/api/projects/${projectId}/activity_log/`, { key: owner.key });
    const last = chain[chain.length - 1]!;
    expect(list.body.results[0]).toMatchObject({ item_id: "t-10", sequence: last.sequence, hash: last.hash });
    const advanced = await call(`/api/organizations/${organizationId}/advanced_activity_logs/?item_ids=t-3`, { key: owner.key });
    expect(advanced.body.results[0]).toMatchObject({ sequence: chain.find((r) => r.item_id === "t-3")!.sequence });
    const feed = await call(`/api/v2/activities/?id=${last.seq}`, { headers: { authorization: `Token ${owner.key}` } });
    expect(feed.body.results[0]).toMatchObject({ sequence: last.sequence, hash: last.hash });
  });
});

describe("verify", () => {
  it("verifies an untouched chain in resumable pages", async () => {
    const { organizationId, chain } = await sealedOrganization();
    const whole = await call(verifyPath(organizationId), { key: owner.key });
    expect(whole.status).toBe(200);
    expect(whole.body).toEqual({
      verified: true,
      checked: chain.length,
      first_sequence: 1,
      last_sequence: chain.length,
      first_broken_sequence: null,
      reason: null,
      next: null,
    });
    const range = await call(verifyPath(organizationId, "?from_sequence=4&to_sequence=6"), { key: owner.key });
    expect(range.body).toMatchObject({ verified: true, checked: 3, first_sequence: 4, last_sequence: 6 });
    // Bounded pages, each starting from the hash the previous one checked.
    const pages = [];
    let from: number | null = 1;
    while (from !== null) {
      const page = await verifyChain(env.DB, organizationId, { from }, 4);
      pages.push(page);
      from = page.next_from_sequence;
    }
    expect(pages.map((p) => [p.first_sequence, p.last_sequence, p.verified])).toEqual(
      [1, 5, 9, 13].filter((s) => s <= chain.length).map((s) => [s, Math.min(s + 3, chain.length), true]),
    );
  });

  it("is for admins of the organization", async () => {
    const member = await addMember(owner, 1);
    expect((await call(verifyPath(owner.organizationId), { key: member.key })).status).toBe(403);
    const stranger = await signupFirstUser().catch(() => null);
    if (stranger) expect((await call(verifyPath(owner.organizationId), { key: stranger.key })).status).toBe(404);
    expect((await call(verifyPath(owner.organizationId, "?from_sequence=0"), { key: owner.key })).status).toBe(400);
  });

  it("names the first broken sequence when a row's detail is changed in the database", async () => {
    const { organizationId, chain } = await sealedOrganization();
    const target = chain.find((r) => r.item_id === "t-4")!;
    await bypassingTriggers([env.DB.prepare(`UPDATE activity_log SET detail = '{"name":"forged"}' WHERE seq = ?1`).bind(target.seq)]);
    const res = await call(verifyPath(organizationId), { key: owner.key });
    expect(res.body).toMatchObject({
      verified: false,
      first_broken_sequence: target.sequence,
      last_sequence: target.sequence - 1,
      reason: expect.stringMatching(/does not match its hash/),
    });
  });

  it("names the first broken sequence when a row is deleted", async () => {
    const { organizationId, chain } = await sealedOrganization();
    const target = chain.find((r) => r.item_id === "t-6")!;
    await bypassingTriggers([env.DB.prepare("DELETE FROM activity_log WHERE seq = ?1").bind(target.seq)]);
    const res = await call(verifyPath(organizationId), { key: owner.key });
    expect(res.body).toMatchObject({
      verified: false,
      first_broken_sequence: target.sequence,
      reason: `sequence ${target.sequence} is missing`,
    });
    // A page that starts right after the hole cannot start either.
    const after = await call(verifyPath(organizationId, `?from_sequence=${target.sequence + 1}`), { key: owner.key });
    expect(after.body).toMatchObject({ verified: false, first_broken_sequence: target.sequence });
  });

  it("names the first broken sequence when two rows are swapped", async () => {
    const { organizationId, chain } = await sealedOrganization();
    const a = chain.find((r) => r.item_id === "t-7")!;
    const b = chain.find((r) => r.item_id === "t-8")!;
    await bypassingTriggers([
      env.DB.prepare("UPDATE activity_chain SET seq = -1 WHERE seq = ?1").bind(a.seq),
      env.DB.prepare("UPDATE activity_chain SET seq = ?1 WHERE seq = ?2").bind(a.seq, b.seq),
      env.DB.prepare("UPDATE activity_chain SET seq = ?1 WHERE seq = -1").bind(b.seq),
    ]);
    const res = await call(verifyPath(organizationId), { key: owner.key });
    expect(res.body).toMatchObject({ verified: false, first_broken_sequence: a.sequence });
  });

  it("catches a chain recomputed after a change, against a signed checkpoint", async () => {
    const { organizationId, chain } = await sealedOrganization();
    await signCheckpoints(env, Date.now());
    // Rewrite the chain from t-2 on with valid hashes over forged content: only the checkpoint tells.
    const target = chain.find((r) => r.item_id === "t-2")!;
    await bypassingTriggers([
      env.DB.prepare(`UPDATE activity_log SET detail = '{"name":"forged"}' WHERE seq = ?1`).bind(target.seq),
      env.DB.prepare("DELETE FROM activity_chain WHERE organization_id = ?1 AND sequence >= ?2").bind(organizationId, target.sequence),
      env.DB.prepare("DELETE FROM activity_chain_heads WHERE organization_id = ?1").bind(organizationId),
    ]);
    const previous = chain.find((r) => r.sequence === target.sequence - 1)!;
    await env.DB.prepare("INSERT INTO activity_chain_heads (organization_id, sequence, hash) VALUES (?1, ?2, ?3)")
      .bind(organizationId, previous.sequence, previous.hash)
      .run();
    await resealFrom(organizationId, previous.seq);
    const res = await call(verifyPath(organizationId), { key: owner.key });
    expect(res.body).toMatchObject({
      verified: false,
      first_broken_sequence: chain[chain.length - 1]!.sequence,
      reason: "the chain differs from a signed checkpoint",
    });
  });
});

/** Seals the organization's rows after `seq` again (what someone rewriting the chain would do). */
async function resealFrom(organizationId: string, seq: number) {
  const shard = chainShardOf(organizationId);
  const markOf = () =>
    env.DB.prepare("SELECT value FROM instance_settings WHERE key = ?1").bind(chainMarkKey(shard)).first<{ value: string }>();
  const mark = await markOf();
  await env.DB.prepare("UPDATE instance_settings SET value = ?1 WHERE key = ?2").bind(String(seq), chainMarkKey(shard)).run();
  // Other organizations' rows past `seq` are sealed already: keep them out of the way.
  const others = (
    await env.DB.prepare("SELECT seq FROM activity_chain WHERE seq > ?1 AND organization_id != ?2")
      .bind(seq, organizationId)
      .all<{ seq: number }>()
  ).results;
  expect(others).toEqual([]);
  await sealPending(env.DB, shard, 1000);
  expect(Number((await markOf())?.value)).toBe(Number(mark?.value));
}

describe("checkpoints", () => {
  it("signs each organization's head daily, lists it, and publishes the public key", async () => {
    const { organizationId, chain } = await sealedOrganization();
    await signCheckpoints(env, Date.now());
    const list = await call(`/api/organizations/${organizationId}/activity_log/checkpoints/`, { key: owner.key });
    expect(list.status).toBe(200);
    const last = chain[chain.length - 1]!;
    const checkpoint = list.body.results[0];
    expect(checkpoint).toMatchObject({ kind: "signed", organization_id: organizationId, sequence: last.sequence, hash: last.hash });
    // No head moved: nothing new to sign.
    expect((await signCheckpoints(env, Date.now())).signed).toBe(0);

    const key = await call("/api/activity_log/public_key/");
    expect(key.status).toBe(200);
    expect(key.body).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", kid: checkpoint.key_id });
    expect(key.body.d).toBeUndefined();
    expect(await verifyCheckpointSignature(checkpoint as SignedCheckpoint, key.body)).toBe(true);
    expect(await verifyCheckpointSignature({ ...checkpoint, sequence: checkpoint.sequence + 1 }, key.body)).toBe(false);

    const member = await addMember(owner, 1);
    expect((await call(`/api/organizations/${owner.organizationId}/activity_log/checkpoints/`, { key: member.key })).status).toBe(403);
  });

  it("retention leaves a checkpoint at the cut and the rest still verifies", async () => {
    const organizationId = await organizationWithHistory([
      ["r-1", 400],
      ["r-2", 399],
      ["r-3", 10],
      ["r-4", 5],
    ]);
    await purgeExpiredActivity(env, Date.now());
    const cut = await env.DB.prepare(
      "SELECT sequence, hash FROM activity_chain_checkpoints WHERE organization_id = ?1 AND kind = 'retention'",
    )
      .bind(organizationId)
      .first<{ sequence: number; hash: string }>();
    expect(cut?.sequence).toBe(2);
    expect(await verifyChain(env.DB, organizationId, {}, 100)).toMatchObject({
      verified: true,
      checked: 2,
      first_sequence: 3,
      last_sequence: 4,
    });
  });

  it("an export verifies offline against a signed checkpoint, and a changed cell does not", async () => {
    const { organizationId, chain } = await sealedOrganization();
    await signCheckpoints(env, Date.now());
    const checkpoint = (await call(`/api/organizations/${organizationId}/activity_log/checkpoints/`, { key: owner.key })).body.results[0];
    const publicKey = (await call("/api/activity_log/public_key/")).body;
    const base = `/api/organizations/${organizationId}`;
    const started = await call(`${base}/advanced_activity_logs/export/`, { key: owner.key, body: { format: "csv" } });
    expect((await waitForExport(`${base}/exports/${started.body.id}/`, owner.key)).status).toBe("complete");
    const [header, ...cells] = parseCsv((await call(`${base}/exports/${started.body.id}/content/`, { key: owner.key })).body as string);
    expect(header).toEqual(
      expect.arrayContaining([
        "sequence",
        "hash",
        "hash_version",
        "user_id",
        "was_impersonated",
        "is_system",
        "recorded_by_user_id",
        "recorded_by_api_key_id",
      ]),
    );
    const records = cells.map((row) => Object.fromEntries(header!.map((name, i) => [name, row[i] ?? ""])));
    expect(await verifyExportRows(records, checkpoint, publicKey)).toMatchObject({
      verified: true,
      checked: chain.length,
      checkpoint_sequence: chain.length,
    });
    const forged = records.map((r) => (r.item_id === "t-5" ? { ...r, detail: '{"name":"forged"}' } : r));
    expect(await verifyExportRows(forged, checkpoint, publicKey)).toMatchObject({
      verified: false,
      first_broken_sequence: chain.find((r) => r.item_id === "t-5")!.sequence,
    });
    // Who recorded a row is hashed too: another key's id, or no recorder at all, is caught.
    const changes: Record<string, string>[] = [{ recorded_by_api_key_id: "forged-key" }, { recorded_by_user_id: "" }];
    for (const change of changes) {
      const reattributed = records.map((r) => (r.item_id === "t-7" ? { ...r, ...change } : r));
      expect(await verifyExportRows(reattributed, checkpoint, publicKey)).toMatchObject({
        verified: false,
        first_broken_sequence: chain.find((r) => r.item_id === "t-7")!.sequence,
      });
    }
    expect(await verifyExportRows(records, { ...checkpoint, hash: "0".repeat(64) }, publicKey)).toMatchObject({ verified: false });
  });

  it("sends each signed checkpoint to the organization's destinations that listen for it", async () => {
    const { organizationId, chain } = await sealedOrganization();
    const web = interceptFetch();
    try {
      await createDestination(owner, { events: ["activity_log_checkpoint_signed"] }, `/api/organizations/${organizationId}/destinations/`);
      await signCheckpoints(env, Date.now());
      const sent = await eventually(async () => web.received.find((r) => r.body.includes(organizationId)));
      const body = JSON.parse(sent.body);
      expect(body.type).toBe("activity_log_checkpoint_signed");
      expect(body.data.checkpoint).toMatchObject({
        organization_id: organizationId,
        sequence: chain.length,
        hash: chain[chain.length - 1]!.hash,
      });
      const publicKey = (await call("/api/activity_log/public_key/")).body;
      expect(await verifyCheckpointSignature(body.data.checkpoint, publicKey)).toBe(true);
    } finally {
      web.restore();
    }
  }, 30_000);
});

/**
 * Seals an organization's rows again as the sequencer did before recorded_by was hashed: hash
 * version 1, inserted without naming `hash_version` (the column's default). What a database
 * migrated from that code holds.
 */
async function sealedBeforeVersion2(organizationId: string) {
  const rows = (
    await env.DB.prepare(
      `SELECT c.sequence, a.seq, ${CHAIN_COLUMNS} FROM activity_chain AS c JOIN activity_log AS a ON a.seq = c.seq
       WHERE c.organization_id = ?1 ORDER BY c.sequence`,
    )
      .bind(organizationId)
      .all<ChainRowInput & { seq: number }>()
  ).results;
  let previous = GENESIS_HASH;
  const entries: [number, number, string][] = [];
  for (const row of rows) {
    previous = chainHash(previous, { ...row, hash_version: 1 });
    entries.push([row.seq, row.sequence, previous]);
  }
  const last = entries[entries.length - 1]!;
  await bypassingTriggers([
    env.DB.prepare("DELETE FROM activity_chain WHERE organization_id = ?1").bind(organizationId),
    ...entries.map(([seq, sequence, hash]) =>
      env.DB.prepare("INSERT INTO activity_chain (seq, organization_id, sequence, hash) VALUES (?1, ?2, ?3, ?4)").bind(
        seq,
        organizationId,
        sequence,
        hash,
      ),
    ),
    env.DB.prepare("DELETE FROM activity_chain_heads WHERE organization_id = ?1").bind(organizationId),
    env.DB.prepare("INSERT INTO activity_chain_heads (organization_id, sequence, hash) VALUES (?1, ?2, ?3)").bind(
      organizationId,
      last[1],
      last[2],
    ),
  ]);
}

/** An organization whose rows up to `t-10` were sealed with hash version 1 and `n-1`..`n-3` after, with version 2. */
async function organizationAcrossTheCutOver() {
  const org = await sealedOrganization();
  await sealedBeforeVersion2(org.organizationId);
  await ingest(
    owner,
    Array.from({ length: 3 }, (_, i) => ({ scope: "Flag", activity: "updated", item_id: `n-${i + 1}` })),
    {},
    org.projectId,
  );
  await sealAllShards(env);
  return { ...org, chain: await chainOf(org.organizationId) };
}

/** The organization's export (CSV or XLSX) as records by column name, every cell as text. */
async function exportRecords(organizationId: string, format: "csv" | "xlsx") {
  const base = `/api/organizations/${organizationId}`;
  const started = await call(`${base}/advanced_activity_logs/export/`, { key: owner.key, body: { format } });
  expect((await waitForExport(`${base}/exports/${started.body.id}/`, owner.key)).status).toBe("complete");
  const res = await fetchWorker(
    new Request(`http://audit.test${base}/exports/${started.body.id}/content/`, { headers: { authorization: `Bearer ${owner.key}` } }),
  );
  if (format === "csv") {
    const [header, ...cells] = parseCsv(await res.text());
    return cells.map((row) => Object.fromEntries(header!.map((name, i) => [name, row[i] ?? ""])));
  }
  // As scripts/verify-export.mjs reads an XLSX export.
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(await res.arrayBuffer());
  const rows: unknown[][] = [];
  workbook.worksheets[0]!.eachRow((row) => rows.push((row.values as unknown[]).slice(1)));
  return xlsxRecords(rows);
}

async function signedCheckpointOf(organizationId: string) {
  await signCheckpoints(env, Date.now());
  const checkpoint = (await call(`/api/organizations/${organizationId}/activity_log/checkpoints/`, { key: owner.key })).body.results[0];
  return { checkpoint: checkpoint as SignedCheckpoint, publicKey: (await call("/api/activity_log/public_key/")).body as JsonWebKey };
}

describe("recorded_by in the hash (issue 17)", () => {
  it("seals new rows with hash version 2: changing who recorded a row in the database names its sequence", async () => {
    const { organizationId, chain } = await sealedOrganization();
    expect(new Set(chain.map((r) => r.hash_version))).toEqual(new Set([2]));
    const target = chain.find((r) => r.item_id === "t-3")!;
    await bypassingTriggers([env.DB.prepare("UPDATE activity_log SET recorded_by_key_id = 'forged-key' WHERE seq = ?1").bind(target.seq)]);
    expect((await call(verifyPath(organizationId), { key: owner.key })).body).toMatchObject({
      verified: false,
      first_broken_sequence: target.sequence,
      last_sequence: target.sequence - 1,
      reason: expect.stringMatching(/does not match its hash/),
    });
  });

  it("a row made to look like the system's (recorded_by_user_id cleared) breaks the chain at that row", async () => {
    const { organizationId, chain } = await sealedOrganization();
    const target = chain.find((r) => r.item_id === "t-6")!;
    await bypassingTriggers([
      env.DB.prepare("UPDATE activity_log SET recorded_by_user_id = NULL, recorded_by_key_id = NULL WHERE seq = ?1").bind(target.seq),
    ]);
    expect((await call(verifyPath(organizationId), { key: owner.key })).body).toMatchObject({
      verified: false,
      first_broken_sequence: target.sequence,
    });
  });

  it("rows sealed before the change (hash version 1) still verify, beside rows sealed after, in pages across the cut-over", async () => {
    const { organizationId, chain } = await organizationAcrossTheCutOver();
    const firstV2 = chain.find((r) => r.item_id === "n-1")!.sequence;
    expect(chain.map((r) => r.hash_version)).toEqual(chain.map((r) => (r.sequence < firstV2 ? 1 : 2)));
    expect((await call(verifyPath(organizationId), { key: owner.key })).body).toMatchObject({ verified: true, checked: chain.length });
    const page = await call(verifyPath(organizationId, `?from_sequence=${firstV2 - 1}&to_sequence=${firstV2 + 1}`), { key: owner.key });
    expect(page.body).toMatchObject({ verified: true, checked: 3 });
  });

  it("across the cut-over: a changed version 1 row, a re-attributed version 2 row and a version 2 row relabelled 1 are caught", async () => {
    const cases: [string, (seq: number) => D1PreparedStatement][] = [
      ["t-4", (seq) => env.DB.prepare(`UPDATE activity_log SET detail = '{"name":"forged"}' WHERE seq = ?1`).bind(seq)],
      ["n-2", (seq) => env.DB.prepare("UPDATE activity_log SET recorded_by_key_id = 'forged-key' WHERE seq = ?1").bind(seq)],
      // Hashed as version 1 the row would leave recorded_by out: its stored hash (version 2) does not match.
      ["n-2", (seq) => env.DB.prepare("UPDATE activity_chain SET hash_version = 1 WHERE seq = ?1").bind(seq)],
      ["n-1", (seq) => env.DB.prepare("UPDATE activity_chain SET hash_version = 3 WHERE seq = ?1").bind(seq)],
    ];
    for (const [item, tamper] of cases) {
      const { organizationId, chain } = await organizationAcrossTheCutOver();
      const target = chain.find((r) => r.item_id === item)!;
      await bypassingTriggers([tamper(target.seq)]);
      expect((await call(verifyPath(organizationId), { key: owner.key })).body).toMatchObject({
        verified: false,
        first_broken_sequence: target.sequence,
      });
    }
  }, 30_000);

  it("a version 1 row's recorded_by is not covered (documented): changing it leaves the chain verified", async () => {
    const { organizationId, chain } = await organizationAcrossTheCutOver();
    const target = chain.find((r) => r.item_id === "t-4")!;
    expect(target.hash_version).toBe(1);
    await bypassingTriggers([env.DB.prepare("UPDATE activity_log SET recorded_by_key_id = 'forged-key' WHERE seq = ?1").bind(target.seq)]);
    expect((await call(verifyPath(organizationId), { key: owner.key })).body).toMatchObject({ verified: true });
  });

  it("CSV and XLSX exports across the cut-over verify offline; a re-attributed row or a dropped hash_version column does not", async () => {
    const { organizationId, chain } = await organizationAcrossTheCutOver();
    const { checkpoint, publicKey } = await signedCheckpointOf(organizationId);
    expect(checkpoint.sequence).toBe(chain.length);
    const target = chain.find((r) => r.item_id === "n-2")!;
    const firstV2 = chain.find((r) => r.item_id === "n-1")!.sequence;
    for (const format of ["csv", "xlsx"] as const) {
      const records = await exportRecords(organizationId, format);
      const options = { formulaGuarded: format === "csv" };
      expect(records.find((r) => r.item_id === "n-2")).toMatchObject({
        hash_version: "2",
        recorded_by_user_id: String(owner.userId),
        recorded_by_api_key_id: expect.stringMatching(/./),
      });
      expect(await verifyExportRows(records, checkpoint, publicKey, options)).toMatchObject({ verified: true, checked: chain.length });
      const reattributed = records.map((r) => (r.item_id === "n-2" ? { ...r, recorded_by_user_id: "999999" } : r));
      expect(await verifyExportRows(reattributed, checkpoint, publicKey, options)).toMatchObject({
        verified: false,
        first_broken_sequence: target.sequence,
      });
      // An export from before hash versions had no such column: its rows are all version 1.
      const withoutVersions = records.map(({ hash_version: _, ...r }) => r);
      expect(await verifyExportRows(withoutVersions, checkpoint, publicKey, options)).toMatchObject({
        verified: false,
        first_broken_sequence: firstV2,
      });
    }
  }, 30_000);
});
