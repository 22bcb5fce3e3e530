// "Nothing is lost" for activity events. `commitWithActivity` writes one outbox row (the ids of
// the activity rows) in the same D1 batch as the rows themselves, then, off the response path,
// puts the events on the queue and deletes the outbox row. If the queue send fails or the Worker
// dies first, the row stays and the cron sweep republishes it a minute later. A republished event
// is harmless: deliveries are unique per (event id, destination).

import { and, eq, notExists, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { createDb } from "../db/client";
import { inList } from "../db/in-list";
import { activityLog, notificationOutbox, notificationSubscriptions } from "../db/schema";
import type { Env } from "../env";
import { uuidv7 } from "../lib/ids";
import { log } from "../lib/log";
import type { NotificationEvent } from "../lib/messages";
import { sendMessages } from "./publish";

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

export function outboxInsert(db: Db, activityIds: string[]) {
  const id = uuidv7();
  return { id, statement: db.insert(notificationOutbox).values({ id, activityIds, createdAt: new Date() }) };
}

export function activityEvent(row: CommittedActivity): NotificationEvent {
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

/** Activity subscriptions of the organizations (primary key prefix `(organization_id, event_type)`). */
const activitySubscriptionsOf = (organizationIds: string[]) =>
  and(
    inList(notificationSubscriptions.organizationId, organizationIds),
    eq(notificationSubscriptions.eventType, "activity_log_entry_created"),
  );

/**
 * Queues the events of committed activity rows, then clears their outbox row. Organizations with
 * no activity subscription are skipped without touching the queue: the common case, nobody
 * listening, is one statement that clears the outbox row only if no subscription exists.
 */
export async function publishCommittedActivity(env: Env, outboxId: string, rows: CommittedActivity[]): Promise<void> {
  const db = createDb(env.DB);
  const organizationIds = [...new Set(rows.map((row) => row.organizationId))];
  const [cleared] = await db
    .delete(notificationOutbox)
    .where(
      and(
        eq(notificationOutbox.id, outboxId),
        notExists(db.select({ one: sql`1` }).from(notificationSubscriptions).where(activitySubscriptionsOf(organizationIds))),
      ),
    )
    .returning({ id: notificationOutbox.id });
  if (cleared) return;
  const listening = await db
    .selectDistinct({ organizationId: notificationSubscriptions.organizationId })
    .from(notificationSubscriptions)
    .where(activitySubscriptionsOf(organizationIds));
  const listeningIds = new Set(listening.map((row) => row.organizationId));
  const events = rows.filter((row) => listeningIds.has(row.organizationId)).map(activityEvent);
  await sendMessages(
    env,
    events.map((event) => ({ kind: "event", event })),
  );
  await db.delete(notificationOutbox).where(eq(notificationOutbox.id, outboxId));
}

/** The same publisher, detached from the write path: a failure is logged and left to the sweep. */
export async function publishCommittedActivitySafely(env: Env, outboxId: string, rows: CommittedActivity[]): Promise<void> {
  try {
    await publishCommittedActivity(env, outboxId, rows);
  } catch (error) {
    log("error", "notification publish failed; the outbox sweep will retry", { outbox_id: outboxId, error });
  }
}
