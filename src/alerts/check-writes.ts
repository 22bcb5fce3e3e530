import type { logsAlertCheckBatches } from "../db/schema";
import type { Env } from "../env";
import { OUTBOX_GRACE_MS, type OutboxEvent, publishOutboxSafely } from "../events/outbox";
import { uuidv7 } from "../lib/ids";
import type { NotificationEvent } from "../lib/messages";
import { iso } from "../lib/time";
import {
  type AlertMachine,
  type AlertNotification,
  type AlertState,
  breachBits,
  breachesFromBits,
  type CheckOutcome,
  type Evaluation,
  HISTORY_LENGTH,
  routineCheck,
} from "./alert.machine";
import { type AlertRow, ceilMinute, MINUTE_MS, machineOf, rulesOf, uuidFromKey } from "./alerts.queries";

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
  /** The history after this check, as `logs_alerts.recent_breaches` stores it (`breachBits`). */
  recentBreaches: number;
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

// A chunk's checks go to D1 as a few statements, each binding one JSON array that SQLite reads back
// with json_each, instead of three statements per alert: the round trip and the statement count stay
// flat however many alerts a chunk holds. A row changes only while the alert is still at the
// version the check was evaluated against (a raced edit, a new version, or a delete drops the
// check) and has not recorded this window or a later one yet (the first writer of a window wins).

/** Check events read from one JSON array, for the alerts still at the version the check was evaluated against. */
const INSERT_EVENTS_FROM_JSON = `INSERT INTO logs_alert_events (id, alert_id, kind, result_count, threshold_breached, state_before, state_after,
    error_message, query_duration_ms, notification, window_start, window_end, routine, created_at)
  SELECT j.value ->> 'id', a.id, 'check', j.value ->> 'resultCount', j.value ->> 'thresholdBreached', j.value ->> 'stateBefore',
    j.value ->> 'stateAfter', j.value ->> 'errorMessage', j.value ->> 'queryDurationMs', j.value ->> 'notification',
    j.value ->> 'windowStart', j.value ->> 'windowEnd', j.value ->> 'routine', j.value ->> 'createdAt'
  FROM json_each(?1) AS j JOIN logs_alerts AS a ON a.id = j.value ->> 'alertId' AND a.version = j.value ->> 'version'`;

// A write lands when its alert is still at the version the check was evaluated against and has not
// recorded the write's window or a later one: the state update's own condition, per write. Read in
// the batch before that update (one transaction), it tells each write apart, also two windows of one
// alert (a replay and its successor), of which the update records only the later: the landed marker
// that the outbox row and the chunk's record read, so a writer that lost a window never notifies.
const LANDING = `FROM json_each(?1) AS j JOIN logs_alerts AS a ON a.id = j.value ->> 'alertId' AND a.version = j.value ->> 'version'
    AND (a.last_checked_at IS NULL OR a.last_checked_at < j.value ->> 'windowEnd')`;

/** Positions of the writes that land. */
const LANDED_WRITES = `SELECT j.key AS i ${LANDING}`;

// The notifications of the writes that land go to the outbox in the same batch (src/events/outbox.ts);
// no row is written when none lands.
const INSERT_OUTBOX = `INSERT INTO notification_outbox (id, activity_ids, events, created_at, sweep_at)
  SELECT ?2, '[]', events, ?3, ?3 + ${OUTBOX_GRACE_MS} FROM (SELECT json_group_array(json(j.value -> 'event')) AS events, count(*) AS n ${LANDING})
  WHERE n > 0
  RETURNING events`;

// The chunk's record: what the consumer knows before the commit (?2..?8) plus the objects' checks and
// the notifications that land. `finished_at` is D1's clock as the commit runs, so the chunk's time
// includes its last round trip, as when the record was a round trip of its own after the commit.
const RECORD_CHUNK = `INSERT INTO logs_alert_check_batches
    (id, window_end, due, checked, skipped, failed, notifications, decided_in_consumer, enqueued_at, started_at, finished_at)
  SELECT ?2, ?3, ?4, ?5 + l.checked, ?4 - ?5 - l.checked - ?6, ?6, l.notifications, ?5, ?7, ?8, CAST(round((julianday('now') - 2440587.5) * 86400000) AS INTEGER)
  FROM (SELECT coalesce(sum(j.value ->> 'current'), 0) AS checked, coalesce(sum(j.value ->> 'notifies'), 0) AS notifications ${LANDING}) AS l
  WHERE true
  ON CONFLICT (id) DO UPDATE SET window_end = excluded.window_end, due = excluded.due, checked = excluded.checked, skipped = excluded.skipped,
    failed = excluded.failed, notifications = excluded.notifications, decided_in_consumer = excluded.decided_in_consumer,
    enqueued_at = excluded.enqueued_at, started_at = excluded.started_at, finished_at = excluded.finished_at
  RETURNING *`;

const UPDATE_STATES = `UPDATE logs_alerts SET state = j.value ->> 'state', consecutive_failures = j.value ->> 'consecutiveFailures',
    last_notified_at = j.value ->> 'lastNotifiedAt', last_checked_at = j.value ->> 'windowEnd',
    last_error_message = j.value ->> 'lastErrorMessage', next_check_at = j.value ->> 'nextCheckAt',
    recent_breaches = j.value ->> 'recentBreaches'
  FROM json_each(?1) AS j
  WHERE logs_alerts.id = j.value ->> 'alertId' AND logs_alerts.version = j.value ->> 'version'
    AND (logs_alerts.last_checked_at IS NULL OR logs_alerts.last_checked_at < j.value ->> 'windowEnd')`;

const INSERT_EVENTS = `${INSERT_EVENTS_FROM_JSON}
  WHERE true
  ON CONFLICT (id) DO NOTHING`;

// Checks that changed nothing are kept only as the latest HISTORY_LENGTH per alert.
const PRUNE_ROUTINE = `DELETE FROM logs_alert_events AS e
  WHERE e.routine = 1 AND e.alert_id IN (SELECT value FROM json_each(?1)) AND e.window_end <
    (SELECT x.window_end FROM logs_alert_events AS x WHERE x.alert_id = e.alert_id AND x.routine = 1
     ORDER BY x.window_end DESC LIMIT 1 OFFSET ${HISTORY_LENGTH - 1})`;

const RESCHEDULE = `UPDATE logs_alerts SET next_check_at = j.value ->> 'nextCheckAt'
  FROM json_each(?1) AS j
  WHERE logs_alerts.id = j.value ->> 'alertId' AND logs_alerts.version = j.value ->> 'version'`;

/** A chunk of the alert-checks consumer, recorded in its commit's batch (`logs_alert_check_batches`). */
export interface ChunkRecord {
  id: string;
  windowEnd: number;
  due: number;
  failed: number;
  decidedInConsumer: number;
  enqueuedAt: number;
  startedAt: number;
  /** Positions (in the commit's writes) of the objects' checks of this window, as opposed to replays of earlier ones. */
  current: number[];
}

export type ChunkRow = typeof logsAlertCheckBatches.$inferSelect;

export interface CommitResult {
  /** Per write: whether it landed (false: the alert was edited or deleted meanwhile, or another write of its window came first). */
  applied: boolean[];
  published: number;
  /** The chunk's record, when one was given. */
  chunk: ChunkRow | null;
}

interface ChunkRowSql {
  [column: string]: unknown;
  id: string;
  window_end: number;
  due: number;
  checked: number;
  skipped: number;
  failed: number;
  notifications: number;
  decided_in_consumer: number;
  enqueued_at: number;
  started_at: number;
  finished_at: number;
}

/** A write's event as `INSERT_EVENTS_FROM_JSON` reads it (the object's and the consumer's alike). */
const eventRow = (w: CheckWrite) => ({
  ...w.event,
  alertId: w.alertId,
  version: w.version,
  stateAfter: w.state,
  windowStart: w.windowStart,
  windowEnd: w.windowEnd,
});

const chunkRow = (r: ChunkRowSql): ChunkRow => ({
  id: r.id,
  windowEnd: new Date(r.window_end),
  due: r.due,
  checked: r.checked,
  skipped: r.skipped,
  failed: r.failed,
  notifications: r.notifications,
  decidedInConsumer: r.decided_in_consumer,
  enqueuedAt: new Date(r.enqueued_at),
  startedAt: new Date(r.started_at),
  finishedAt: new Date(r.finished_at),
});

/**
 * Writes the checks of many alerts in one D1 batch, with the notifications of those that land in
 * the outbox (and the chunk's record, when given), then publishes them: a notification never goes
 * out for a check D1 did not record, nor is one lost when the Worker dies after the commit. Event
 * and notification ids derive from (alert, window end), so committing the same check twice changes
 * nothing downstream.
 */
export async function commitChecks(
  env: Env,
  writes: CheckWrite[],
  reschedules: Reschedule[] = [],
  chunk?: ChunkRecord,
): Promise<CommitResult> {
  if (!writes.length && !reschedules.length && !chunk) return { applied: [], published: 0, chunk: null };
  // The state to mirror is the latest check of each alert (a replayed check comes before its successor).
  const latest = new Map<string, CheckWrite>();
  for (const w of writes) if ((latest.get(w.alertId)?.windowEnd ?? 0) < w.windowEnd) latest.set(w.alertId, w);
  const states = [...latest.values()].map((w) => ({
    alertId: w.alertId,
    version: w.version,
    state: w.state,
    consecutiveFailures: w.consecutiveFailures,
    lastNotifiedAt: w.lastNotifiedAt,
    windowEnd: w.windowEnd,
    lastErrorMessage: w.lastErrorMessage,
    nextCheckAt: w.nextCheckAt,
    recentBreaches: w.recentBreaches,
  }));
  const events = writes.map(eventRow);
  const current = new Set(chunk?.current);
  const keys = JSON.stringify(
    writes.map((w, i) => ({
      alertId: w.alertId,
      version: w.version,
      windowEnd: w.windowEnd,
      current: current.has(i),
      notifies: !!w.publish,
    })),
  );
  const routine = [...new Set(writes.filter((w) => w.event.routine).map((w) => w.alertId))];
  const statement = (query: string, rows: unknown[]) => env.DB.prepare(query).bind(JSON.stringify(rows));
  const outboxId = uuidv7();
  const outbox = writes.flatMap((w) =>
    w.publish
      ? [{ alertId: w.alertId, version: w.version, windowEnd: w.windowEnd, event: { ...w.publish, id: w.publish.id ?? uuidv7() } }]
      : [],
  );
  // Everything that reads which writes land runs before the state update changes the rows.
  const results = await env.DB.batch<Record<string, unknown>>([
    env.DB.prepare(LANDED_WRITES).bind(keys),
    ...(outbox.length ? [env.DB.prepare(INSERT_OUTBOX).bind(JSON.stringify(outbox), outboxId, Date.now())] : []),
    ...(chunk
      ? [
          env.DB.prepare(RECORD_CHUNK).bind(
            keys,
            chunk.id,
            chunk.windowEnd,
            chunk.due,
            chunk.decidedInConsumer,
            chunk.failed,
            chunk.enqueuedAt,
            chunk.startedAt,
          ),
        ]
      : []),
    statement(UPDATE_STATES, states),
    statement(INSERT_EVENTS, events),
    statement(PRUNE_ROUTINE, routine),
    statement(RESCHEDULE, reschedules),
  ]);
  const [landedRows, ...rest] = results;
  const queued = outbox.length ? rest.shift() : undefined;
  const recorded = chunk ? rest.shift()?.results[0] : undefined;
  const landed = new Set((landedRows?.results ?? []).map((r) => Number(r.i)));
  const applied = writes.map((_, i) => landed.has(i));
  const notifications: OutboxEvent[] = JSON.parse((queued?.results[0]?.events as string | undefined) ?? "[]");
  if (notifications.length) await publishOutboxSafely(env, outboxId, [], notifications);
  return { applied, published: notifications.length, chunk: recorded ? chunkRow(recorded as ChunkRowSql) : null };
}

const PUBLISHED: Partial<Record<AlertNotification, NotificationEvent["type"]>> = {
  firing: "logs_alert_firing",
  resolved: "logs_alert_resolved",
  broken: "logs_alert_broken",
};

/** After a check: nothing while broken, the end of a snooze, otherwise one check interval later. */
export function nextCheck(state: AlertState, alert: AlertRow, windowEnd: number): number | null {
  if (state === "broken") return null;
  if (state === "snoozed" && alert.snoozeUntil && alert.snoozeUntil.getTime() > windowEnd) return ceilMinute(alert.snoozeUntil.getTime());
  return windowEnd + alert.checkIntervalMinutes * MINUTE_MS;
}

export interface EvaluatedCheck {
  alert: AlertRow;
  /** The row version the check was evaluated against. */
  version: number;
  windowEnd: number;
  /** The machine the check started from, and what `evaluate` made of it. */
  before: AlertMachine;
  result: Evaluation;
  outcome: CheckOutcome;
  queryDurationMs: number | null;
  createdAt: number;
}

/**
 * What an evaluated check writes to D1 and publishes: the same for a check the Durable Object ran
 * and for one the consumer decided from the mirror. Event and notification ids derive from
 * (alert, window end), so the same check written twice is one event and one notification.
 */
export async function checkWrite({ alert, version, windowEnd, before, result, outcome, queryDurationMs, createdAt }: EvaluatedCheck) {
  const next = result.machine;
  const windowStart = windowEnd - alert.windowMinutes * MINUTE_MS;
  const errorMessage = outcome.ok ? null : outcome.error.slice(0, 1000);
  const eventType = result.notification ? PUBLISHED[result.notification] : undefined;
  const write: CheckWrite = {
    alertId: alert.id,
    version,
    windowStart,
    windowEnd,
    state: next.state,
    consecutiveFailures: next.consecutiveFailures,
    lastNotifiedAt: next.lastNotifiedAt,
    lastErrorMessage: errorMessage,
    nextCheckAt: nextCheck(next.state, alert, windowEnd),
    recentBreaches: breachBits(next.recentBreaches),
    event: {
      id: await uuidFromKey(`logs_alert:${alert.id}:${windowEnd}`),
      resultCount: outcome.ok ? outcome.count : null,
      thresholdBreached: result.breached,
      stateBefore: before.state,
      errorMessage,
      queryDurationMs,
      notification: result.notification,
      routine: outcome.ok && next.state === before.state && !result.notification,
      createdAt,
    },
    publish: eventType
      ? {
          id: await uuidFromKey(`logs_alert:${alert.id}:${windowEnd}:${eventType}`),
          type: eventType,
          organizationId: alert.organizationId,
          teamId: alert.teamId,
          alertId: alert.id,
          occurredAt: iso(windowEnd) as string,
          data: {
            alert: { id: alert.id, name: alert.name, project_id: alert.teamId },
            state: next.state,
            previous_state: before.state,
            result_count: outcome.ok ? outcome.count : null,
            threshold_count: alert.thresholdCount,
            threshold_operator: alert.thresholdOperator,
            window_minutes: alert.windowMinutes,
            window_start: iso(windowStart),
            window_end: iso(windowEnd),
            evaluated_at: iso(windowEnd),
            reason: result.reason,
            ...(errorMessage ? { error_message: errorMessage } : {}),
          },
        }
      : null,
  };
  return write;
}

// ---------------------------------------------------------------------------------------------
// The check shortcut. Most checks change nothing but the alert's history and schedule: a
// not_firing alert within its threshold (or short of N breaches), a firing one still breached. The
// consumer decides those from the D1 mirror (`state`, `version`, `recent_breaches`) and records
// them itself, with a compare-and-set on what it read; every other check goes to the alert's
// Durable Object, which stays the only writer of transitions and notifications.

/** The machine as the D1 mirror knows it, when the mirror alone can decide the alert's next check. */
export function mirroredMachine(alert: AlertRow): AlertMachine | null {
  if (alert.recentBreaches === null) return null;
  // The object was handed a window D1 does not show (its commit was lost): it may be ahead of the mirror.
  const landed = alert.lastCheckedAt?.getTime() ?? null;
  if (alert.objectWindowEnd !== null && (landed === null || alert.objectWindowEnd.getTime() > landed)) return null;
  return machineOf(alert, breachesFromBits(alert.recentBreaches));
}

/** A check the consumer records without the object, and the row it decided from. */
export interface RoutineCheck {
  write: CheckWrite;
  /** `last_checked_at` as read: the write applies only while the row still shows it. */
  readLastCheckedAt: number | null;
}

/** The check of `windowEnd` when the mirror shows it changes nothing, else null (the object runs it). */
export async function decideInConsumer(
  alert: AlertRow,
  outcome: CheckOutcome,
  windowEnd: number,
  queryDurationMs: number | null,
  createdAt = Date.now(),
): Promise<RoutineCheck | null> {
  const before = mirroredMachine(alert);
  if (!before) return null;
  const result = routineCheck(rulesOf(alert), before, outcome, windowEnd);
  if (!result) return null;
  const write = await checkWrite({ alert, version: alert.version, windowEnd, before, result, outcome, queryDurationMs, createdAt });
  return { write, readLastCheckedAt: alert.lastCheckedAt?.getTime() ?? null };
}

// Compare-and-set on what the consumer read: same version (no person's transition since), same
// last check (no other check since, by the object or a repeated tick), the same state without
// failures, and no window handed to the object that D1 does not show.
const ROUTINE_STATES = `UPDATE logs_alerts SET last_checked_at = j.value ->> 'windowEnd', next_check_at = j.value ->> 'nextCheckAt',
    recent_breaches = j.value ->> 'recentBreaches', last_error_message = NULL
  FROM json_each(?1) AS j
  WHERE logs_alerts.id = j.value ->> 'alertId' AND logs_alerts.version = j.value ->> 'version'
    AND logs_alerts.last_checked_at IS (j.value ->> 'readLastCheckedAt')
    AND logs_alerts.state = j.value ->> 'state' AND logs_alerts.consecutive_failures = 0
    AND (logs_alerts.object_window_end IS NULL OR logs_alerts.object_window_end <= logs_alerts.last_checked_at)
  RETURNING logs_alerts.id AS id`;

// Only for the rows the compare-and-set moved to this window (a check of the same window that got
// there first has the same event id).
const ROUTINE_EVENTS = `${INSERT_EVENTS_FROM_JSON}
    AND a.last_checked_at = j.value ->> 'windowEnd'
  WHERE true
  ON CONFLICT (id) DO NOTHING`;

const MARK_OBJECT_CHECKS = `UPDATE logs_alerts SET object_window_end = max(coalesce(object_window_end, 0), ?2)
  WHERE id IN (SELECT value FROM json_each(?1))`;

/**
 * One D1 batch before any Durable Object is called: the checks the consumer decided (state
 * compare-and-set, events, routine prune) and the mark of the alerts about to go to their objects.
 * Returns, per routine check, whether it landed (false: something else moved the alert first).
 */
export async function commitRoutineChecks(env: Env, checks: RoutineCheck[], objectAlertIds: string[], windowEnd: number) {
  const statements: D1PreparedStatement[] = [];
  if (objectAlertIds.length) statements.push(env.DB.prepare(MARK_OBJECT_CHECKS).bind(JSON.stringify(objectAlertIds), windowEnd));
  if (checks.length) {
    const states = checks.map(({ write: w, readLastCheckedAt }) => ({
      alertId: w.alertId,
      version: w.version,
      windowEnd: w.windowEnd,
      state: w.state,
      nextCheckAt: w.nextCheckAt,
      recentBreaches: w.recentBreaches,
      readLastCheckedAt,
    }));
    const events = checks.map(({ write }) => eventRow(write));
    statements.push(
      env.DB.prepare(ROUTINE_STATES).bind(JSON.stringify(states)),
      env.DB.prepare(ROUTINE_EVENTS).bind(JSON.stringify(events)),
      env.DB.prepare(PRUNE_ROUTINE).bind(JSON.stringify(checks.map((c) => c.write.alertId))),
    );
  }
  if (!statements.length) return [];
  const results = await env.DB.batch<{ id: string }>(statements);
  if (!checks.length) return [];
  const landed = new Set((results[objectAlertIds.length ? 1 : 0]?.results ?? []).map((r) => r.id));
  return checks.map((c) => landed.has(c.write.alertId));
}
