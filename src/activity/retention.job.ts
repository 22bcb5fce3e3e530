import { sealAllShards } from "../audit/sequencer";
import type { Env } from "../env";
import { oncePerDay } from "../lib/daily";
import { uuidv7 } from "../lib/ids";
import { chainStart } from "./chain";
import { IDEMPOTENCY_WINDOW_MS } from "./ingest";

// The daily activity retention sweep. Rows older than their organization's
// `activity_log_retention_days` are deleted in batches, by chain prefix (rows of a deleted
// organization after the default 365 days). The database enforces the other half: a trigger refuses to delete a row still
// inside its window, another refuses every UPDATE (see migrations/0008_*.sql).

const DAY_MS = 86_400_000;
const DEFAULT_RETENTION_DAYS = 365;
const LAST_RUN_KEY = "activity_retention_last_day";
const BATCH = 5000;

export interface ActivityRetentionResult {
  deleted: number;
  idempotencyKeysDeleted: number;
  complete: boolean;
}

/** Runs a `DELETE ... RETURNING` of at most BATCH rows until it deletes fewer (D1's `changes` also counts the search index's rows). */
async function deleteInBatches(statement: D1PreparedStatement, deadline: number): Promise<{ deleted: number; complete: boolean }> {
  let deleted = 0;
  while (true) {
    const { results } = await statement.all();
    deleted += results.length;
    if (results.length < BATCH) return { deleted, complete: true };
    if (Date.now() >= deadline) return { deleted, complete: false };
  }
}

/**
 * Where an organization's chain can be cut: the last sequence before its first row still inside
 * the window (or the head when none is), with that row's hash; null when nothing new is expired.
 */
async function chainCut(db: D1Database, organizationId: string, expiry: number): Promise<{ sequence: number; hash: string } | null> {
  const [firstKept, head, start] = await db.batch<{ sequence: number; hash: string }>([
    db
      .prepare(
        `SELECT c.sequence FROM activity_chain AS c INDEXED BY activity_chain_org_sequence JOIN activity_log AS a ON a.seq = c.seq
         WHERE c.organization_id = ?1 AND a.created_at >= ?2 ORDER BY c.sequence LIMIT 1`,
      )
      .bind(organizationId, expiry),
    db.prepare("SELECT sequence, hash FROM activity_chain_heads WHERE organization_id = ?1").bind(organizationId),
    db
      .prepare("SELECT max(sequence) AS sequence FROM activity_chain_checkpoints WHERE organization_id = ?1 AND kind = 'retention'")
      .bind(organizationId),
  ]);
  const kept = firstKept?.results[0]?.sequence;
  const headRow = head?.results[0];
  if (!headRow) return null;
  const sequence = kept === undefined ? headRow.sequence : kept - 1;
  if (sequence <= (start?.results[0]?.sequence ?? 0)) return null;
  if (sequence === headRow.sequence) return headRow;
  const at = await db
    .prepare("SELECT hash FROM activity_chain WHERE organization_id = ?1 AND sequence = ?2")
    .bind(organizationId, sequence)
    .first<{ hash: string }>();
  return at ? { sequence, hash: at.hash } : null;
}

/**
 * Deletes expired rows (and expired ingest idempotency keys) until done or `budgetMs` is spent.
 * Rows go by chain prefix: each organization's chain is cut before its first row still inside the
 * window, and a `retention` checkpoint keeps the sequence and hash at the cut, where verification
 * of the rest starts. A row written with an old `created_at` after newer ones therefore stays
 * until those expire too: at most one window after it was written. Idempotent: a repeated or
 * overlapping run finds nothing more to delete.
 */
export async function purgeExpiredActivity(env: Env, now: number, budgetMs = 25_000): Promise<ActivityRetentionResult> {
  const db = env.DB;
  const deadline = Date.now() + budgetMs;
  // Only sealed rows have a place to cut at.
  await sealAllShards(env);
  // Organizations that were deleted keep their rows for the default window.
  const { results: organizations } = await db
    .prepare(
      `SELECT h.organization_id AS id, coalesce(o.activity_log_retention_days, ?1) AS days
       FROM activity_chain_heads AS h LEFT JOIN organizations AS o ON o.id = h.organization_id`,
    )
    .bind(DEFAULT_RETENTION_DAYS)
    .all<{ id: string; days: number }>();
  let deleted = 0;
  let rowsComplete = true;
  for (const [i, organization] of organizations.entries()) {
    const cut = await chainCut(db, organization.id, now - organization.days * DAY_MS);
    if (cut) {
      await db
        .prepare(
          `INSERT INTO activity_chain_checkpoints (id, organization_id, kind, sequence, hash, created_at)
           VALUES (?1, ?2, 'retention', ?3, ?4, ?5) ON CONFLICT DO NOTHING`,
        )
        .bind(uuidv7(), organization.id, cut.sequence, cut.hash, now)
        .run();
    }
    // Also finishes a cut that an earlier run left half done.
    const start = await chainStart(db, organization.id);
    const rows = await deleteInBatches(
      db
        .prepare(
          `DELETE FROM activity_log WHERE seq IN (
             SELECT seq FROM activity_chain INDEXED BY activity_chain_org_sequence WHERE organization_id = ?1 AND sequence <= ?2 LIMIT ${BATCH})
           RETURNING 1`,
        )
        .bind(organization.id, start.sequence),
      deadline,
    );
    deleted += rows.deleted;
    // Organizations with nothing to delete cost two small reads: only a deletion spends the budget.
    if (!rows.complete || (rows.deleted && Date.now() >= deadline && i < organizations.length - 1)) {
      rowsComplete = false;
      break;
    }
  }
  const keys = await deleteInBatches(
    db
      .prepare(
        `DELETE FROM activity_ingest_keys WHERE key IN (SELECT key FROM activity_ingest_keys WHERE created_at <= ?1 LIMIT ${BATCH}) RETURNING 1`,
      )
      .bind(now - IDEMPOTENCY_WINDOW_MS),
    deadline,
  );
  const complete = rowsComplete && keys.complete;
  // Keeps the planner's statistics current as the table grows and shrinks.
  if (complete) await db.prepare("PRAGMA optimize").run();
  return { deleted, idempotencyKeysDeleted: keys.deleted, complete };
}

/** The cron entry: once per UTC day from 03:00 (see `oncePerDay`). */
export function runDailyActivityRetention(env: Env, now: number): Promise<ActivityRetentionResult | null> {
  return oncePerDay(env, LAST_RUN_KEY, now, () => purgeExpiredActivity(env, now));
}
