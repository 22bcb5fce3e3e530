import { serializeActivity } from "./activity.pages";
import { ACTIVITY_COLUMNS, ACTIVITY_JOINS, type ActivityRowRecord } from "./activity.queries";

// PostHog's legacy `important_changes`: other people's changes to the resources the caller created,
// plus updates, exports, sharing changes and deletions of the resources the caller changed. Any
// scope counts (apps record their own resource types), rows without a person (system rows) do not,
// and a burst of changes by one person to one resource within five minutes shows once (the newest).

const INTERESTING = ["updated", "exported", "sharing enabled", "sharing disabled", "deleted"];
const RESULTS = 10;
const DEDUPE_WINDOW_MS = 5 * 60_000;
// Enough rows to fill RESULTS after collapsing bursts of edits.
const CANDIDATES = 200;

export async function importantChangesFor(db: D1Database, teamId: number, userId: number, after: number | null) {
  const { results } = await db
    .prepare(
      `WITH created AS (
         SELECT DISTINCT scope, item_id FROM activity_log INDEXED BY activity_log_team_time
         WHERE team_id = ?1 AND user_id = ?2 AND activity = 'created' AND item_id IS NOT NULL
       ), edited AS (
         SELECT DISTINCT scope, item_id FROM activity_log INDEXED BY activity_log_team_time
         WHERE team_id = ?1 AND user_id = ?2 AND activity IN (SELECT value FROM json_each(?3)) AND item_id IS NOT NULL
       )
       SELECT ${ACTIVITY_COLUMNS}
       FROM activity_log AS a INDEXED BY activity_log_team_time ${ACTIVITY_JOINS}
       WHERE a.team_id = ?1 AND a.user_id IS NOT NULL AND a.user_id != ?2 AND a.created_at > ?4
         AND ((a.scope, a.item_id) IN (SELECT scope, item_id FROM created)
           OR (a.activity IN (SELECT value FROM json_each(?3)) AND (a.scope, a.item_id) IN (SELECT scope, item_id FROM edited)))
       ORDER BY a.created_at DESC, a.id DESC LIMIT ?5`,
    )
    .bind(teamId, userId, JSON.stringify(INTERESTING), after ?? -1, CANDIDATES)
    .all<ActivityRowRecord>();
  const kept: ActivityRowRecord[] = [];
  for (const row of results) {
    const burst = kept.some(
      (k) =>
        k.user_id === row.user_id && k.scope === row.scope && k.item_id === row.item_id && k.created_at - row.created_at < DEDUPE_WINDOW_MS,
    );
    if (!burst) kept.push(row);
    if (kept.length === RESULTS) break;
  }
  return kept.map((row) => serializeActivity(row, null));
}
