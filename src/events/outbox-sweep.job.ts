import { asc, lte, sql } from "drizzle-orm";
import { createDb } from "../db/client";
import { activityLog, notificationOutbox } from "../db/schema";
import type { Env } from "../env";
import { ACTIVITY_EVENT_COLUMNS, OUTBOX_GRACE_MS, OUTBOX_MAX_INTERVAL_MS, publishOutbox } from "./outbox";

export const SWEEP_BATCH = 50;

/**
 * Cron job: republishes outbox rows whose `sweep_at` passed (a minute after their commit, the fan-out
 * has not cleared them). Each is re-armed first, after as long again as it has been waiting (1, 2,
 * 4... minutes, at most an hour), so a slow queue is not flooded with copies. Returns how many it
 * republished.
 */
export async function sweepNotificationOutbox(env: Env, now = Date.now()): Promise<number> {
  const db = createDb(env.DB);
  const due = await db
    .select()
    .from(notificationOutbox)
    .where(lte(notificationOutbox.sweepAt, new Date(now)))
    .orderBy(asc(notificationOutbox.sweepAt))
    .limit(SWEEP_BATCH);
  if (!due.length) return 0;
  await db.run(
    sql`UPDATE notification_outbox SET sweep_at = ${now} + min(max(${now} - created_at, ${OUTBOX_GRACE_MS}), ${OUTBOX_MAX_INTERVAL_MS})
      WHERE id IN (SELECT value FROM json_each(${JSON.stringify(due.map((entry) => entry.id))}))`,
  );
  for (const entry of due) {
    const rows = entry.activityIds.length
      ? await db
          .select(ACTIVITY_EVENT_COLUMNS)
          .from(activityLog)
          .where(sql`${activityLog.id} in (select value from json_each(${JSON.stringify(entry.activityIds)}))`)
      : [];
    const found = new Set(rows.map((row) => row.id));
    const missing = entry.activityIds.filter((id) => !found.has(id));
    await publishOutbox(env, entry.id, rows, entry.events, missing);
  }
  return due.length;
}
