// The two FTS5 indexes of the activity log, the trigram index behind `search_text` and the item
// index behind `item_ids`, are filled behind the writes: every row with a `seq` above the
// high-water mark is not indexed yet, and a query reads those rows directly (see
// activity.query.ts), so results never lag. The cron folds new rows in by the thousand.

export const SEARCH_MARK_KEY = "activity_log_search_seq";

/** The mark as a SQL expression, for queries that must also read the rows not indexed yet. */
export const SEARCH_MARK_SQL = `(SELECT CAST(value AS INTEGER) FROM instance_settings WHERE key = '${SEARCH_MARK_KEY}')`;

/** Indexes up to `maxRows` rows past the mark; returns how many. */
export async function refreshSearchIndex(db: D1Database, maxRows: number): Promise<number> {
  const mark = (await db.prepare(`SELECT coalesce(${SEARCH_MARK_SQL}, 0) AS seq`).first<{ seq: number }>())?.seq ?? 0;
  const range = await db
    .prepare("SELECT count(*) AS n, max(seq) AS upper FROM (SELECT seq FROM activity_log WHERE seq > ?1 ORDER BY seq LIMIT ?2)")
    .bind(mark, maxRows)
    .first<{ n: number; upper: number | null }>();
  if (!range?.upper) return 0;
  // The statements run in one transaction and only if the mark is still where this run read it,
  // so two overlapping runs never index a row twice.
  const unchanged = `coalesce(${SEARCH_MARK_SQL}, 0) = ?1`;
  await db.batch([
    db
      .prepare(
        `INSERT INTO activity_log_search (rowid, detail)
         SELECT seq, coalesce(detail, '') FROM activity_log WHERE seq > ?1 AND seq <= ?2 AND ${unchanged}`,
      )
      .bind(mark, range.upper),
    db
      .prepare(
        `INSERT INTO activity_log_items (rowid, item_id)
         SELECT seq, item_id FROM activity_log WHERE seq > ?1 AND seq <= ?2 AND item_id IS NOT NULL AND ${unchanged}`,
      )
      .bind(mark, range.upper),
    db
      .prepare(
        `INSERT INTO instance_settings (key, value) VALUES (?3, CAST(?2 AS TEXT))
         ON CONFLICT (key) DO UPDATE SET value = CAST(?2 AS TEXT) WHERE CAST(value AS INTEGER) = ?1`,
      )
      .bind(mark, range.upper, SEARCH_MARK_KEY),
  ]);
  return range.n;
}

// Separators as the item index's tokenizer sees them (unicode61: letters and numbers, plus the
// tokenchars of migrations/0013_*.sql).
const ITEM_TOKEN = /[\p{L}\p{N}\p{Co}\-_.:/@#+~]+/gu;

/** The item index query for any of `itemIds` (each one's tokens ANDed), or null if one has no token. */
export function itemQuery(itemIds: readonly string[]): string | null {
  const groups: string[] = [];
  for (const id of itemIds) {
    const tokens = id.match(ITEM_TOKEN);
    if (!tokens) return null;
    groups.push(`(${tokens.map((t) => `"${t}"`).join(" AND ")})`);
  }
  return groups.join(" OR ");
}
