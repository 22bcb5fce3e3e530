// The per-organization hash chain. Rows are written without a place in it; the sequencers
// (sequencer.object.ts, one per shard of organizations, src/audit/sequencer.ts) seal them behind
// the writes, in `seq` order, which is commit order: D1 runs one write transaction at a time and
// AUTOINCREMENT never reuses an id, so a row committed later always has a higher `seq`. Each
// shard has its mark: every row of the shard at or below it is sealed.
import { CHAIN_SHARDS, type ChainShard } from "../audit/sequencer";
import { type ChainRowInput, CURRENT_HASH_VERSION, chainHash, checkChain, GENESIS_HASH } from "../lib/chain-hash";

/** The instance setting holding a shard's mark. */
export const chainMarkKey = (shard: ChainShard) => `activity_chain_seq:${shard}`;

/** The shard's mark, in SQL; the shard is checked against the list, as it is written into the SQL. */
function markSql(shard: ChainShard): string {
  if (!CHAIN_SHARDS.includes(shard)) throw new Error(`unknown chain shard ${shard}`);
  return `coalesce((SELECT CAST(value AS INTEGER) FROM instance_settings WHERE key = '${chainMarkKey(shard)}'), 0)`;
}

/** The hashed columns of a row (src/lib/chain-hash.ts, `chainRecord`), recorded_by included. */
export const CHAIN_COLUMNS = `a.id, a.organization_id, a.team_id, a.user_id, a.was_impersonated, a.is_system, a.client,
  a.ip_address, a.activity, a.item_id, a.scope, a.detail, a.created_at, a.recorded_by_user_id, a.recorded_by_key_id`;

type StoredRow = Omit<ChainRowInput, "sequence" | "hash_version"> & { seq: number };

/**
 * Characters of detail JSON one read of pending rows may carry: a detail may hold 64 KiB, so 2,000
 * rows could pass D1's 50 MB result limit, and a read that always fails would stop the chain.
 * About 12 MB at most in UTF-8; a larger single row is still read alone.
 */
const DETAIL_CHARS_PER_READ = 4_000_000;
type Head = { sequence: number; hash: string };

/** What one read found past the mark: the mark, up to `maxRows` rows in `seq` order, their organizations' heads. */
interface Pending {
  mark: number;
  rows: StoredRow[];
  heads: Map<string, Head>;
}

/**
 * The three statements that read what is pending. They run in one batch (one transaction), either
 * alone or after the previous batch's writes, so rows, mark and heads are always one consistent
 * state, whoever moved the mark last.
 */
function readPending(db: D1Database, shard: ChainShard, maxRows: number, maxChars = DETAIL_CHARS_PER_READ): D1PreparedStatement[] {
  // `substr(a.organization_id, -1)`, as the index activity_log_chain_shard has it.
  const past = `FROM activity_log AS a WHERE substr(a.organization_id, -1) = '${shard}' AND a.seq > ${markSql(shard)} ORDER BY a.seq LIMIT ?1`;
  // Rows in `seq` order while the details before each stay under `maxChars` (the first row always).
  const size = "coalesce(length(x.detail), 0)";
  return [
    db.prepare(`SELECT ${markSql(shard)} AS seq`),
    db
      .prepare(
        `SELECT * FROM (SELECT x.*, sum(${size}) OVER (ORDER BY x.seq ROWS UNBOUNDED PRECEDING) - ${size} AS chars_before
         FROM (SELECT a.seq, ${CHAIN_COLUMNS} ${past}) AS x) WHERE chars_before < ?2 ORDER BY seq`,
      )
      .bind(maxRows, maxChars),
    db
      .prepare(
        `SELECT organization_id, sequence, hash FROM activity_chain_heads WHERE organization_id IN (SELECT a.organization_id ${past})`,
      )
      .bind(maxRows),
  ];
}

function pendingOf([markResult, rowsResult, headsResult]: D1Result[]): Pending {
  const heads = (headsResult?.results ?? []) as { organization_id: string; sequence: number; hash: string }[];
  return {
    mark: (markResult?.results[0] as { seq: number } | undefined)?.seq ?? 0,
    rows: (rowsResult?.results ?? []) as StoredRow[],
    heads: new Map(heads.map((h) => [h.organization_id, { sequence: h.sequence, hash: h.hash }])),
  };
}

/**
 * The writes that seal `pending`: its rows' places and hashes, the heads, the mark. Each applies
 * only if the mark is still where `pending` was read, so an overlapping sealer (a second sequencer
 * during a deploy, a retry) never forks a chain; the unique (organization, sequence) index backs
 * that up.
 */
function sealStatements(db: D1Database, shard: ChainShard, pending: Pending): D1PreparedStatement[] {
  const { mark, rows, heads } = pending;
  const last = rows[rows.length - 1];
  if (!last) return [];
  const entries: [number, string, number, string][] = [];
  for (const row of rows) {
    const previous = heads.get(row.organization_id) ?? { sequence: 0, hash: GENESIS_HASH };
    const sequence = previous.sequence + 1;
    const hash = chainHash(previous.hash, { ...row, sequence, hash_version: CURRENT_HASH_VERSION });
    heads.set(row.organization_id, { sequence, hash });
    entries.push([row.seq, row.organization_id, sequence, hash]);
  }
  const organizations = [...new Set(rows.map((r) => r.organization_id))];
  const unchanged = `${markSql(shard)} = ?1`;
  return [
    db
      .prepare(
        `INSERT INTO activity_chain (seq, organization_id, sequence, hash, hash_version)
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, ?3 FROM json_each(?2) WHERE ${unchanged}`,
      )
      .bind(mark, JSON.stringify(entries), CURRENT_HASH_VERSION),
    db
      .prepare(
        `INSERT INTO activity_chain_heads (organization_id, sequence, hash)
         SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?2) WHERE ${unchanged}
         ON CONFLICT (organization_id) DO UPDATE SET sequence = excluded.sequence, hash = excluded.hash`,
      )
      .bind(mark, JSON.stringify(organizations.map((o) => [o, heads.get(o)?.sequence, heads.get(o)?.hash]))),
    db
      .prepare(
        `INSERT INTO instance_settings (key, value) VALUES (?3, CAST(?2 AS TEXT))
         ON CONFLICT (key) DO UPDATE SET value = CAST(?2 AS TEXT) WHERE CAST(value AS INTEGER) = ?1`,
      )
      .bind(mark, last.seq, chainMarkKey(shard)),
  ];
}

export interface SealRun {
  /** Rows this run sealed (a batch another sealer beat it to counts for nothing). */
  sealed: number;
  /** Whether rows were still waiting when the run stopped (out of batches or time). */
  more: boolean;
}

/**
 * Seals the shard's rows past its mark, `maxRows` at a time, until none is left or `keepGoing()`
 * says stop. One D1 round trip per batch: a batch's writes and the next read share it (one
 * transaction), the hashing happens between round trips.
 */
export async function sealBacklog(
  db: D1Database,
  shard: ChainShard,
  maxRows: number,
  keepGoing: () => boolean = () => true,
  maxChars = DETAIL_CHARS_PER_READ,
): Promise<SealRun> {
  let pending = pendingOf(await db.batch(readPending(db, shard, maxRows, maxChars)));
  let sealed = 0;
  while (pending.rows.length && keepGoing()) {
    const writes = sealStatements(db, shard, pending);
    const results = await db.batch([...writes, ...readPending(db, shard, maxRows, maxChars)]);
    // The mark's upsert changed nothing when another sealer moved the mark first.
    if ((results[writes.length - 1]?.meta.changes ?? 0) > 0) sealed += pending.rows.length;
    pending = pendingOf(results.slice(writes.length));
  }
  return { sealed, more: pending.rows.length > 0 };
}

/** Seals up to `maxRows` of the shard's rows past its mark in one batch; returns how many were waiting (sealed by this call or a concurrent one). */
export async function sealPending(db: D1Database, shard: ChainShard, maxRows: number, maxChars = DETAIL_CHARS_PER_READ): Promise<number> {
  const pending = pendingOf(await db.batch(readPending(db, shard, maxRows, maxChars)));
  const writes = sealStatements(db, shard, pending);
  if (writes.length) await db.batch(writes);
  return pending.rows.length;
}

/** Where an organization's chain starts: after the last row retention deleted, or at the beginning. */
export async function chainStart(db: D1Database, organizationId: string): Promise<{ sequence: number; hash: string }> {
  const cut = await db
    .prepare(
      "SELECT sequence, hash FROM activity_chain_checkpoints WHERE organization_id = ?1 AND kind = 'retention' ORDER BY sequence DESC LIMIT 1",
    )
    .bind(organizationId)
    .first<{ sequence: number; hash: string }>();
  return cut ?? { sequence: 0, hash: GENESIS_HASH };
}

export interface VerifyResult {
  verified: boolean;
  checked: number;
  first_sequence: number | null;
  last_sequence: number | null;
  first_broken_sequence: number | null;
  reason: string | null;
  /** The `from_sequence` of the next page, or null when the range is done or broken. */
  next_from_sequence: number | null;
}

/**
 * Recomputes at most `limit` rows of an organization's chain from `from` (default: its start) up
 * to `to` (default: its head). A page starts from the stored hash before it, which the previous
 * page checked; the signed checkpoints inside the page must match.
 */
export async function verifyChain(
  db: D1Database,
  organizationId: string,
  range: { from?: number; to?: number },
  limit: number,
): Promise<VerifyResult> {
  const start = await chainStart(db, organizationId);
  const from = Math.max(range.from ?? 1, start.sequence + 1);
  const [before, headResult, rowsResult, signedResult] = await db.batch([
    db.prepare("SELECT hash FROM activity_chain WHERE organization_id = ?1 AND sequence = ?2").bind(organizationId, from - 1),
    db.prepare("SELECT sequence FROM activity_chain_heads WHERE organization_id = ?1").bind(organizationId),
    db
      .prepare(
        `SELECT c.sequence, c.hash, c.hash_version, ${CHAIN_COLUMNS} FROM activity_chain AS c JOIN activity_log AS a ON a.seq = c.seq
         WHERE c.organization_id = ?1 AND c.sequence BETWEEN ?2 AND ?3 ORDER BY c.sequence LIMIT ?4`,
      )
      .bind(organizationId, from, range.to ?? Number.MAX_SAFE_INTEGER, limit),
    db
      .prepare(
        "SELECT sequence, hash FROM activity_chain_checkpoints WHERE organization_id = ?1 AND kind = 'signed' AND sequence BETWEEN ?2 AND ?3",
      )
      .bind(organizationId, from, range.to ?? Number.MAX_SAFE_INTEGER),
  ]);
  const headSequence = (headResult?.results[0] as { sequence: number } | undefined)?.sequence ?? 0;
  const to = Math.min(range.to ?? headSequence, headSequence);
  const rows = (rowsResult?.results ?? []) as (ChainRowInput & { hash: string })[];
  const previousHash = from - 1 === start.sequence ? start.hash : (before?.results[0] as { hash: string } | undefined)?.hash;
  const empty = { checked: 0, first_sequence: null, last_sequence: null, next_from_sequence: null };
  if (from > to) return { verified: true, ...empty, first_broken_sequence: null, reason: null };
  if (previousHash === undefined) {
    return { verified: false, ...empty, first_broken_sequence: from - 1, reason: `sequence ${from - 1} is missing` };
  }
  const signed = new Map(((signedResult?.results ?? []) as { sequence: number; hash: string }[]).map((c) => [c.sequence, c.hash]));
  const { head, ...check } = await checkChain({ sequence: from - 1, hash: previousHash }, rows, signed);
  const pageEnd = Math.min(to, from + limit - 1);
  if (check.verified && head.sequence < pageEnd) {
    return {
      ...check,
      verified: false,
      first_broken_sequence: head.sequence + 1,
      reason: `sequence ${head.sequence + 1} is missing`,
      next_from_sequence: null,
    };
  }
  return { ...check, next_from_sequence: check.verified && pageEnd < to ? pageEnd + 1 : null };
}
