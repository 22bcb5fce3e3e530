import { and, asc, eq, lte, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { createDb, type Db } from "../db/client";
import { logsAlertCheckBatches, logsAlertEvents, logsAlerts } from "../db/schema";
import type { Env } from "../env";
import { uuidv7 } from "../lib/ids";
import type { AlertCheckMessage } from "../lib/messages";
import { floorMinute } from "./alerts.queries";

const PAGE_SIZE = 1000;
/** Alerts per queue message: their counts share one D1 batch and their writes another. */
const CHUNK_SIZE = 100;
/** Queues take at most 100 messages and 256 KB per sendBatch; a message of 100 ids is about 4 KB. */
const MESSAGES_PER_SEND = 50;
const DAY_MS = 24 * 60 * 60 * 1000;
const EVENT_RETENTION_MS = 90 * DAY_MS;
/** Chunk rows are operational telemetry (about 144,000 a day at 10,000 alerts a minute): a week is enough. */
const CHECK_BATCH_RETENTION_MS = 7 * DAY_MS;
const PRUNE_LIMIT = 5000;

/** One chunk of a tick's due alerts, for the `edge-audit-alert-checks` consumer. */
/** Ids of the due alerts in `(next_check_at, id)` order, a page at a time (index `logs_alerts_due`). */
async function dueAlertIds(db: Db, windowEnd: number): Promise<string[]> {
  const ids: string[] = [];
  let after: { nextCheckAt: Date | null; id: string } | undefined;
  for (;;) {
    const rows = await db
      .select({ id: logsAlerts.id, nextCheckAt: logsAlerts.nextCheckAt })
      .from(logsAlerts)
      .where(
        and(
          lte(logsAlerts.nextCheckAt, new Date(windowEnd)),
          eq(logsAlerts.enabled, true),
          after ? sql`(${logsAlerts.nextCheckAt}, ${logsAlerts.id}) > (${after.nextCheckAt?.getTime()}, ${after.id})` : undefined,
        ),
      )
      .orderBy(asc(logsAlerts.nextCheckAt), asc(logsAlerts.id))
      .limit(PAGE_SIZE);
    ids.push(...rows.map((r) => r.id));
    after = rows.at(-1);
    if (rows.length < PAGE_SIZE) return ids;
  }
}

/**
 * The cron's alert job: every enabled alert whose `next_check_at` has come gets the window ending at
 * this tick's minute. The tick only reads the due ids and hands them out in chunks of CHUNK_SIZE
 * through the `edge-audit-alert-checks` queue, so each chunk's Durable Object calls and D1 work run
 * in their own consumer invocation (and scale out with the consumers). The window end is the
 * idempotency key, so a repeated tick or a redelivered message is harmless, and a tick after missed
 * ones evaluates the current window once (`next_check_at` then moves one interval past it).
 * Returns the messages it sent.
 */
export async function evaluateDueAlerts(env: Env, scheduledTime: number): Promise<AlertCheckMessage[]> {
  const windowEnd = floorMinute(scheduledTime);
  const db = createDb(env.DB);
  const ids = await dueAlertIds(db, windowEnd);
  const enqueuedAt = Date.now();
  const messages: AlertCheckMessage[] = [];
  for (let i = 0; i < ids.length; i += CHUNK_SIZE) {
    messages.push({ id: uuidv7(enqueuedAt), windowEnd, alertIds: ids.slice(i, i + CHUNK_SIZE), enqueuedAt });
  }
  for (let i = 0; i < messages.length; i += MESSAGES_PER_SEND) {
    await env.ALERT_CHECKS_QUEUE.sendBatch(messages.slice(i, i + MESSAGES_PER_SEND).map((body) => ({ body, contentType: "json" })));
  }
  // Events are kept 90 days and chunk rows a week; a bounded delete per tick keeps up with any realistic rate.
  await db.batch([
    pruneBefore(db, logsAlertEvents, logsAlertEvents.createdAt, windowEnd - EVENT_RETENTION_MS),
    pruneBefore(db, logsAlertCheckBatches, logsAlertCheckBatches.windowEnd, windowEnd - CHECK_BATCH_RETENTION_MS),
  ]);
  return messages;
}

/** Deletes up to PRUNE_LIMIT rows whose `time` is before `cutoff`. */
function pruneBefore(db: Db, table: typeof logsAlertEvents | typeof logsAlertCheckBatches, time: SQLiteColumn, cutoff: number) {
  return db.delete(table).where(sql`rowid IN (SELECT rowid FROM ${table} WHERE ${time} < ${cutoff} LIMIT ${PRUNE_LIMIT})`);
}
