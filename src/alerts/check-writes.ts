import type { Env } from "../env";
import { OUTBOX_GRACE_MS, type OutboxEvent, publishOutboxSafely } from "../events/outbox";
import { uuidv7 } from "../lib/ids";
import type { NotificationEvent } from "../lib/messages";
import { type AlertNotification, type AlertState, HISTORY_LENGTH } from "./alert.machine";

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

// A chunk's checks go to D1 as four statements, each binding one JSON array that SQLite reads back
// with json_each, instead of three statements per alert: the round trip and the statement count stay
// flat however many alerts a chunk holds. A row changes only while the alert is still at the
// version the check was evaluated against: a raced edit (new version) or a delete drops the check.

const UPDATE_STATES = `UPDATE logs_alerts SET state = j.value ->> 'state', consecutive_failures = j.value ->> 'consecutiveFailures',
    last_notified_at = j.value ->> 'lastNotifiedAt', last_checked_at = j.value ->> 'windowEnd',
    last_error_message = j.value ->> 'lastErrorMessage', next_check_at = j.value ->> 'nextCheckAt'
  FROM json_each(?1) AS j
  WHERE logs_alerts.id = j.value ->> 'alertId' AND logs_alerts.version = j.value ->> 'version'
  RETURNING logs_alerts.id AS id`;

const INSERT_EVENTS = `INSERT INTO logs_alert_events (id, alert_id, kind, result_count, threshold_breached, state_before, state_after,
    error_message, query_duration_ms, notification, window_start, window_end, routine, created_at)
  SELECT j.value ->> 'id', a.id, 'check', j.value ->> 'resultCount', j.value ->> 'thresholdBreached', j.value ->> 'stateBefore',
    j.value ->> 'stateAfter', j.value ->> 'errorMessage', j.value ->> 'queryDurationMs', j.value ->> 'notification',
    j.value ->> 'windowStart', j.value ->> 'windowEnd', j.value ->> 'routine', j.value ->> 'createdAt'
  FROM json_each(?1) AS j JOIN logs_alerts AS a ON a.id = j.value ->> 'alertId' AND a.version = j.value ->> 'version'
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

// The notifications of the checks that land go to the outbox in the same batch (src/events/outbox.ts):
// the same version join as INSERT_EVENTS picks them, and no row is written when none lands.
const INSERT_OUTBOX = `INSERT INTO notification_outbox (id, activity_ids, events, created_at, sweep_at)
  SELECT ?2, '[]', events, ?3, ?3 + ${OUTBOX_GRACE_MS} FROM (
    SELECT json_group_array(json(j.value -> 'event')) AS events, count(*) AS n
    FROM json_each(?1) AS j JOIN logs_alerts AS a ON a.id = j.value ->> 'alertId' AND a.version = j.value ->> 'version')
  WHERE n > 0
  RETURNING events`;

export interface CommitResult {
  /** Per write: whether it landed (false: the alert was edited or deleted meanwhile). */
  applied: boolean[];
  published: number;
}

/**
 * Writes the checks of many alerts in one D1 batch, with the notifications of those that land in
 * the outbox, then publishes them: a notification never goes out for a check D1 did not record, nor
 * is one lost when the Worker dies after the commit. Event and notification ids derive from (alert,
 * window end), so committing the same check twice changes nothing downstream.
 */
export async function commitChecks(env: Env, writes: CheckWrite[], reschedules: Reschedule[] = []): Promise<CommitResult> {
  if (!writes.length && !reschedules.length) return { applied: [], published: 0 };
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
  }));
  const events = writes.map((w) => ({
    ...w.event,
    alertId: w.alertId,
    version: w.version,
    stateAfter: w.state,
    windowStart: w.windowStart,
    windowEnd: w.windowEnd,
  }));
  const routine = [...new Set(writes.filter((w) => w.event.routine).map((w) => w.alertId))];
  const statement = (query: string, rows: unknown[]) => env.DB.prepare(query).bind(JSON.stringify(rows));
  const outboxId = uuidv7();
  const outbox = writes.flatMap((w) =>
    w.publish ? [{ alertId: w.alertId, version: w.version, event: { ...w.publish, id: w.publish.id ?? uuidv7() } }] : [],
  );
  const [updated, , , , queued] = await env.DB.batch<{ id: string; events: string }>([
    statement(UPDATE_STATES, states),
    statement(INSERT_EVENTS, events),
    statement(PRUNE_ROUTINE, routine),
    statement(RESCHEDULE, reschedules),
    ...(outbox.length ? [env.DB.prepare(INSERT_OUTBOX).bind(JSON.stringify(outbox), outboxId, Date.now())] : []),
  ]);
  const landed = new Set((updated?.results ?? []).map((r) => r.id));
  const applied = writes.map((w) => landed.has(w.alertId));
  const notifications: OutboxEvent[] = JSON.parse(queued?.results[0]?.events ?? "[]");
  if (notifications.length) await publishOutboxSafely(env, outboxId, [], notifications);
  return { applied, published: notifications.length };
}
