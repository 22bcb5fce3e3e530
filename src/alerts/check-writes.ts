import { and, desc, eq, lt, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { createDb, type Db } from "../db/client";
import { logsAlertEvents, logsAlerts } from "../db/schema";
import type { Env } from "../env";
import { type NotificationEvent, publishEvents } from "../notifications/events";
import { type AlertNotification, type AlertState, HISTORY_LENGTH } from "./state-machine";

/** What one check writes to D1 (and publishes once that landed). Plain data: it crosses the Durable Object boundary. */
export interface CheckWrite {
  alertId: string;
  /** The row version the check was evaluated against: the write applies only while the row is still at it. */
  version: number;
  windowStart: number;
  windowEnd: number;
  state: AlertState;
  consecutiveFailures: number;
  lastNotifiedAt: number | null;
  lastErrorMessage: string | null;
  nextCheckAt: number | null;
  event: {
    id: string;
    resultCount: number | null;
    thresholdBreached: boolean | null;
    stateBefore: AlertState;
    errorMessage: string | null;
    queryDurationMs: number | null;
    notification: AlertNotification | null;
    /** A check that changed nothing: only the latest HISTORY_LENGTH of these are kept. */
    routine: boolean;
    createdAt: number;
  };
  publish: NotificationEvent | null;
}

/** A check that did not evaluate (still snoozed, broken) but moves the alert's schedule. */
export interface Reschedule {
  alertId: string;
  version: number;
  nextCheckAt: number | null;
}

const date = (ms: number | null) => (ms === null ? null : new Date(ms));

function writeStatements(db: Db, w: CheckWrite): BatchItem<"sqlite">[] {
  const atVersion = and(eq(logsAlerts.id, w.alertId), eq(logsAlerts.version, w.version));
  const e = w.event;
  const statements: BatchItem<"sqlite">[] = [
    db
      .update(logsAlerts)
      .set({
        state: w.state,
        consecutiveFailures: w.consecutiveFailures,
        lastNotifiedAt: date(w.lastNotifiedAt),
        lastCheckedAt: new Date(w.windowEnd),
        lastErrorMessage: w.lastErrorMessage,
        nextCheckAt: date(w.nextCheckAt),
      })
      .where(atVersion),
    // Selected from the alert row itself: a raced edit (new version) or a delete drops the event with the update.
    db
      .insert(logsAlertEvents)
      .select(
        db
          .select({
            id: sql`${e.id}`.as("id"),
            alertId: logsAlerts.id,
            kind: sql`'check'`.as("kind"),
            resultCount: sql`${e.resultCount}`.as("result_count"),
            thresholdBreached: sql`${e.thresholdBreached === null ? null : Number(e.thresholdBreached)}`.as("threshold_breached"),
            stateBefore: sql`${e.stateBefore}`.as("state_before"),
            stateAfter: sql`${w.state}`.as("state_after"),
            errorMessage: sql`${e.errorMessage}`.as("error_message"),
            queryDurationMs: sql`${e.queryDurationMs}`.as("query_duration_ms"),
            notification: sql`${e.notification}`.as("notification"),
            windowStart: sql`${w.windowStart}`.as("window_start"),
            windowEnd: sql`${w.windowEnd}`.as("window_end"),
            routine: sql`${Number(e.routine)}`.as("routine"),
            createdAt: sql`${e.createdAt}`.as("created_at"),
          })
          .from(logsAlerts)
          .where(atVersion),
      )
      .onConflictDoNothing(),
  ];
  if (e.routine) {
    statements.push(
      db.delete(logsAlertEvents).where(
        and(
          eq(logsAlertEvents.alertId, w.alertId),
          eq(logsAlertEvents.routine, true),
          lt(
            logsAlertEvents.windowEnd,
            db
              .select({ windowEnd: logsAlertEvents.windowEnd })
              .from(logsAlertEvents)
              .where(and(eq(logsAlertEvents.alertId, w.alertId), eq(logsAlertEvents.routine, true)))
              .orderBy(desc(logsAlertEvents.windowEnd))
              .limit(1)
              .offset(HISTORY_LENGTH - 1),
          ),
        ),
      ),
    );
  }
  return statements;
}

export interface CommitResult {
  /** Per write: whether it landed (false: the alert was edited or deleted meanwhile). */
  applied: boolean[];
  published: number;
}

/**
 * Writes the checks of many alerts in one D1 batch, then publishes the notifications of those that
 * landed: a notification never goes out for a check D1 did not record. Event and notification ids
 * derive from (alert, window end), so committing the same check twice changes nothing downstream.
 */
export async function commitChecks(env: Env, writes: CheckWrite[], reschedules: Reschedule[] = []): Promise<CommitResult> {
  if (!writes.length && !reschedules.length) return { applied: [], published: 0 };
  const db = createDb(env.DB);
  const groups = writes.map((w) => writeStatements(db, w));
  const statements = [
    ...groups.flat(),
    ...reschedules.map((r) =>
      db
        .update(logsAlerts)
        .set({ nextCheckAt: date(r.nextCheckAt) })
        .where(and(eq(logsAlerts.id, r.alertId), eq(logsAlerts.version, r.version))),
    ),
  ];
  const [first, ...rest] = statements;
  const results = first ? await db.batch([first, ...rest]) : [];
  const applied: boolean[] = [];
  let offset = 0;
  for (const group of groups) {
    applied.push(((results[offset] as D1Result | undefined)?.meta?.changes ?? 0) > 0);
    offset += group.length;
  }
  const events = writes.flatMap((w, i) => (applied[i] && w.publish ? [w.publish] : []));
  if (events.length) await publishEvents(env, events);
  return { applied, published: events.length };
}
