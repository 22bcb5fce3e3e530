import { asc, lt, sql } from "drizzle-orm";
import { createDb } from "../db/client";
import { activityLog, notificationOutbox } from "../db/schema";
import type { Env } from "../env";
import { ACTIVITY_EVENT_COLUMNS, publishCommittedActivity } from "./outbox";

/** Sweeps leave recent rows to the publisher that is still running after its commit. */
export const SWEEP_GRACE_MS = 60_000;
export const SWEEP_BATCH = 50;

/** Cron job: republishes outbox rows older than a minute. Returns how many it cleared. */
export async function sweepNotificationOutbox(env: Env, now = Date.now()): Promise<number> {
  const db = createDb(env.DB);
  const stale = await db
    .select()
    .from(notificationOutbox)
    .where(lt(notificationOutbox.createdAt, new Date(now - SWEEP_GRACE_MS)))
    .orderBy(asc(notificationOutbox.createdAt))
    .limit(SWEEP_BATCH);
  for (const entry of stale) {
    const rows = await db
      .select(ACTIVITY_EVENT_COLUMNS)
      .from(activityLog)
      .where(sql`${activityLog.id} in (select value from json_each(${JSON.stringify(entry.activityIds)}))`);
    await publishCommittedActivity(env, entry.id, rows);
  }
  return stale.length;
}
