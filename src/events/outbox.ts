// "Nothing is lost." Every notification event goes through the outbox: `commitWithActivity` (and
// the alert and checkpoint writers) insert one outbox row in the same D1 batch as the event's cause,
// naming the commit's activity rows and carrying its other events (change requests, alerts,
// checkpoints) whole. After the commit the publisher queues the events, off the response path. The
// fan-out consumer takes each event out of its row in the same D1 batch as the event's deliveries
// and deletes the row once it is empty: a row leaves the outbox only when its fan-out is recorded.
// A row still there at its `sweep_at` (the send failed, the Worker died, the queue lost the message)
// is republished by the cron sweep (outbox-sweep.job.ts), less and less often. A republished event
// is harmless: deliveries are unique per (event id, destination).

import { and, eq, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client";
import { createDb } from "../db/client";
import { inList } from "../db/in-list";
import { activityLog, notificationOutbox, notificationSubscriptions } from "../db/schema";
import type { Env } from "../env";
import { uuidv7 } from "../lib/ids";
import { log } from "../lib/log";
import type { NotificationEvent } from "../lib/messages";
import { sendMessages } from "./publish";

/** A new row waits this long for its publisher and fan-out before the sweep republishes it. */
export const OUTBOX_GRACE_MS = 60_000;
/** The sweep republishes a row again after as long as it has been waiting, within these bounds. */
export const OUTBOX_MAX_INTERVAL_MS = 3_600_000;

/** The activity columns an event needs, as `commitWithActivity` reads them back from its inserts. */
export const ACTIVITY_EVENT_COLUMNS = {
  id: activityLog.id,
  organizationId: activityLog.organizationId,
  teamId: activityLog.teamId,
  scope: activityLog.scope,
  activity: activityLog.activity,
  itemId: activityLog.itemId,
  createdAt: activityLog.createdAt,
};
export type CommittedActivity = {
  id: string;
  organizationId: string;
  teamId: number | null;
  scope: string;
  activity: string;
  itemId: string | null;
  createdAt: Date;
};

/** An event with its deduplication id fixed: the id the outbox row and the fan-out know it by. */
export type OutboxEvent = NotificationEvent & { id: string };

export interface OutboxInsert {
  id: string;
  events: OutboxEvent[];
  statement: BatchItem<"sqlite">;
}

/** The outbox row of a commit, to go in the commit's own D1 batch. Events without an id get one. */
export function outboxInsert(db: Db, activityIds: string[], events: NotificationEvent[] = [], now = new Date()): OutboxInsert {
  const id = uuidv7();
  const withIds = events.map((event) => ({ ...event, id: event.id ?? uuidv7() }));
  const statement = db
    .insert(notificationOutbox)
    .values({ id, activityIds, events: withIds, createdAt: now, sweepAt: new Date(now.getTime() + OUTBOX_GRACE_MS) });
  return { id, events: withIds, statement };
}

/**
 * The outbox row of a commit whose only events are its activity rows, written only if one of the
 * rows' organizations has an activity subscription, checked inside the commit: a subscription
 * committed after it would not have heard of these rows anyway. Most commits have no listener, so
 * they write no outbox row (a 1,000-row ingest's would hold 40 KB of ids) and publish nothing.
 * The batch's result for `statement` says whether the row was written (`outboxWritten`).
 */
export function activityOutboxInsert(db: Db, activityIds: string[], organizationIds: string[], now = new Date()): OutboxInsert {
  const id = uuidv7();
  const statement = db.insert(notificationOutbox).select(
    sql`SELECT ${id}, ${JSON.stringify(activityIds)}, '[]', ${now.getTime()}, ${now.getTime() + OUTBOX_GRACE_MS}
        WHERE EXISTS (SELECT 1 FROM ${notificationSubscriptions} WHERE ${activitySubscriptionsOf(organizationIds)})`,
  );
  return { id, events: [], statement };
}

/** Whether an outbox insert wrote its row, from its result in the commit's batch. */
export const outboxWritten = (result: unknown) => ((result as D1Result | undefined)?.meta?.changes ?? 0) > 0;

export function activityEvent(row: CommittedActivity): OutboxEvent {
  return {
    id: row.id,
    type: "activity_log_entry_created",
    organizationId: row.organizationId,
    teamId: row.teamId,
    scope: row.scope,
    activity: row.activity,
    itemId: row.itemId,
    occurredAt: row.createdAt.toISOString(),
  };
}

/**
 * Takes events out of their outbox rows (by event id: an activity row's id, or the event's own)
 * and deletes the rows left empty: two statements for the caller's batch, whatever the number of
 * rows (a fan-out batch holds the events of many commits), each reading one JSON parameter.
 */
export function outboxDone(db: Db, done: { outboxId: string; eventIds: string[] }[]): BatchItem<"sqlite">[] {
  const groups = done.filter((d) => d.eventIds.length).map((d) => ({ outbox: d.outboxId, done: d.eventIds }));
  if (!groups.length) return [];
  const json = JSON.stringify(groups);
  const handled = sql`(SELECT d.value FROM json_each(g.value -> 'done') AS d)`;
  // Activity ids are plain strings; events are objects, kept as JSON (not quoted) by json().
  const trim = db
    .update(notificationOutbox)
    .set({
      activityIds: sql`(SELECT json_group_array(e.value) FROM json_each(${notificationOutbox.activityIds}) AS e WHERE e.value NOT IN ${handled})`,
      events: sql`(SELECT json_group_array(json(e.value)) FROM json_each(${notificationOutbox.events}) AS e WHERE e.value ->> 'id' NOT IN ${handled})`,
    })
    .from(sql`json_each(${json}) AS g`)
    .where(sql`${notificationOutbox.id} = g.value ->> 'outbox'`);
  const emptied = db
    .delete(notificationOutbox)
    .where(
      and(
        sql`${notificationOutbox.id} IN (SELECT value ->> 'outbox' FROM json_each(${json}))`,
        sql`json_array_length(${notificationOutbox.activityIds}) = 0`,
        sql`json_array_length(${notificationOutbox.events}) = 0`,
      ),
    );
  return [trim, emptied];
}

/** Activity subscriptions of the organizations (primary key prefix `(organization_id, event_type)`). */
const activitySubscriptionsOf = (organizationIds: string[]) =>
  and(
    inList(notificationSubscriptions.organizationId, organizationIds),
    eq(notificationSubscriptions.eventType, "activity_log_entry_created"),
  );

/**
 * Queues the events of an outbox row; the fan-out clears the row. Activity events go only to
 * organizations with an activity subscription (a commit writes its row only when one exists,
 * `activityOutboxInsert`), and the others are taken out of the row at once, which deletes a row
 * left empty. Other events (rare) are always queued. `missing` names activity
 * rows gone since (retention): nothing is left to send for them.
 */
export async function publishOutbox(
  env: Env,
  outboxId: string,
  rows: CommittedActivity[],
  events: OutboxEvent[],
  missing: string[] = [],
): Promise<void> {
  const db = createDb(env.DB);
  const organizationIds = [...new Set(rows.map((row) => row.organizationId))];
  const listening = rows.length
    ? await db
        .selectDistinct({ organizationId: notificationSubscriptions.organizationId })
        .from(notificationSubscriptions)
        .where(activitySubscriptionsOf(organizationIds))
    : [];
  const listeningIds = new Set(listening.map((row) => row.organizationId));
  const heard = rows.filter((row) => listeningIds.has(row.organizationId));
  const unheard = [...missing, ...rows.filter((row) => !listeningIds.has(row.organizationId)).map((row) => row.id)];
  const [first, ...rest] = outboxDone(db, [{ outboxId, eventIds: unheard }]);
  if (first) await db.batch([first, ...rest]);
  await sendMessages(
    env,
    [...heard.map(activityEvent), ...events].map((event) => ({ kind: "event", event, outboxId })),
  );
}

/** The same publisher, detached from the write path: a failure is logged and left to the sweep. */
export async function publishOutboxSafely(env: Env, outboxId: string, rows: CommittedActivity[], events: OutboxEvent[]): Promise<void> {
  try {
    await publishOutbox(env, outboxId, rows, events);
  } catch (error) {
    log("error", "notification publish failed; the outbox sweep will retry", { outbox_id: outboxId, error });
  }
}
