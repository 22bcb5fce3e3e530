import { DurableObject } from "cloudflare:workers";
import { and, desc, eq, lt, sql } from "drizzle-orm";
import { createDb } from "../db/client";
import { logsAlertEvents, logsAlerts } from "../db/schema";
import type { Env } from "../env";
import { iso } from "../lib/time";
import { countLogs } from "../logs/logs.queries";
import { type NotificationEvent, publishEvents } from "../notifications/events";
import { type AlertRow, ceilMinute, filtersOf, MINUTE_MS, machineOf, rulesOf, uuidFromKey } from "./alerts.queries";
import {
  type AlertMachine,
  type AlertNotification,
  type AlertState,
  type CheckOutcome,
  evaluate,
  HISTORY_LENGTH,
  isEvaluable,
} from "./state-machine";

/** Counts the logs an alert watches in `[fromMs, toMs)`. */
export type AlertCounter = (env: Env, alert: AlertRow, fromMs: number, toMs: number) => Promise<number>;

export const countAlertLogs: AlertCounter = (env, alert, fromMs, toMs) =>
  countLogs(createDb(env.DB), alert.teamId, filtersOf(alert), fromMs, toMs);

export interface CheckRequest {
  /** End of the window to evaluate (a minute boundary); also the check's idempotency key. */
  windowEnd: number;
  /** The alert as the cron read it from D1. */
  alert: AlertRow;
}

export type CheckResult =
  | { status: "checked"; state: AlertState; notification: AlertNotification | null; published: boolean }
  /** Already evaluated this window (or a later one). */
  | { status: "duplicate" }
  /** A person changed the alert since the cron read it; the next tick evaluates the new version. */
  | { status: "stale" }
  /** Not evaluated: broken, or still snoozed. */
  | { status: "skipped"; reason: string };

const PUBLISHED: Partial<Record<AlertNotification, NotificationEvent["type"]>> = {
  firing: "logs_alert_firing",
  resolved: "logs_alert_resolved",
  broken: "logs_alert_broken",
};

const OUTBOX_RETRY_MS = 30_000;

interface MachineRow {
  [key: string]: SqlStorageValue;
  version: number;
  state: AlertState;
  consecutive_failures: number;
  last_notified_at: number | null;
  last_window_end: number | null;
}

/**
 * One per logs alert (named by the alert id). It serialises the alert's checks, runs the state
 * machine over its recent history, mirrors the outcome to D1 and publishes transitions. The window
 * end keys every check: a repeated tick or a retried call for a window already evaluated is a no-op.
 *
 * Storage: `machine` (one row: the state as of the last check and the D1 `version` it belongs to),
 * `checks` (the last HISTORY_LENGTH outcomes) and `outbox` (notifications not yet on the queue).
 */
export class LogsAlertObject extends DurableObject<Env> {
  /** Where counts come from; tests substitute controlled counts. */
  counter: AlertCounter = countAlertLogs;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS machine (
        id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, state TEXT NOT NULL,
        consecutive_failures INTEGER NOT NULL, last_notified_at INTEGER, last_window_end INTEGER);
      CREATE TABLE IF NOT EXISTS checks (
        window_end INTEGER PRIMARY KEY, version INTEGER NOT NULL, count INTEGER, breached INTEGER,
        error TEXT, state_after TEXT NOT NULL, notification TEXT);
      CREATE TABLE IF NOT EXISTS outbox (id TEXT PRIMARY KEY, event TEXT NOT NULL);
    `);
  }

  /** Evaluates one window, at most once. */
  check(request: CheckRequest): Promise<CheckResult> {
    return this.serialized(() => this.runCheck(request));
  }

  override async alarm(): Promise<void> {
    await this.serialized(() => this.flushOutbox(true));
  }

  // Awaiting D1 lets other calls interleave (only storage calls hold the input gate), so checks
  // of the same alert queue behind each other here.
  private serialized<T>(run: () => Promise<T>): Promise<T> {
    const result = this.tail.then(run);
    this.tail = result.catch(() => undefined);
    return result;
  }

  private loadMachine(): MachineRow | null {
    return this.ctx.storage.sql.exec<MachineRow>("SELECT * FROM machine WHERE id = 1").toArray()[0] ?? null;
  }

  private recentBreaches(version: number): boolean[] {
    return this.ctx.storage.sql
      .exec<{ breached: number }>(
        "SELECT breached FROM checks WHERE version = ? AND breached IS NOT NULL ORDER BY window_end DESC LIMIT ?",
        version,
        HISTORY_LENGTH,
      )
      .toArray()
      .map((r) => r.breached === 1);
  }

  private async runCheck({ windowEnd, alert }: CheckRequest): Promise<CheckResult> {
    await this.flushOutbox(false);
    let stored = this.loadMachine();
    if (stored && alert.version < stored.version) return { status: "stale" };
    const lastDone = Math.max(stored?.last_window_end ?? 0, alert.lastCheckedAt?.getTime() ?? 0);
    if (windowEnd <= lastDone) return { status: "duplicate" };
    // The D1 row wins when a person moved it to a new version, or when it recorded a check this
    // object has no trace of (its storage write did not survive): that row is the latest truth.
    if (!stored || alert.version > stored.version || (alert.lastCheckedAt?.getTime() ?? 0) > (stored.last_window_end ?? 0)) {
      stored = this.adopt(alert);
    }
    const machine: AlertMachine = {
      state: stored.state,
      consecutiveFailures: stored.consecutive_failures,
      lastNotifiedAt: stored.last_notified_at,
      recentBreaches: this.recentBreaches(stored.version),
    };
    const rules = rulesOf(alert);
    const db = createDb(this.env.DB);

    if (!isEvaluable(machine, rules, windowEnd)) {
      await db
        .update(logsAlerts)
        .set({ nextCheckAt: nextCheck(machine.state, alert, windowEnd) })
        .where(and(eq(logsAlerts.id, alert.id), eq(logsAlerts.version, stored.version)));
      return { status: "skipped", reason: machine.state };
    }

    const windowStart = windowEnd - alert.windowMinutes * MINUTE_MS;
    const started = Date.now();
    let outcome: CheckOutcome;
    try {
      outcome = { ok: true, count: await this.counter(this.env, alert, windowStart, windowEnd) };
    } catch (error) {
      outcome = { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
    const queryDurationMs = Date.now() - started;
    const result = evaluate(rules, machine, outcome, windowEnd);
    const next = result.machine;
    const eventType = result.notification ? PUBLISHED[result.notification] : undefined;
    const eventId = await uuidFromKey(`logs_alert:${alert.id}:${windowEnd}`);
    const errorMessage = outcome.ok ? null : outcome.error.slice(0, 1000);
    const routine = outcome.ok && next.state === machine.state && !result.notification;

    const [update] = await db.batch([
      db
        .update(logsAlerts)
        .set({
          state: next.state,
          consecutiveFailures: next.consecutiveFailures,
          lastNotifiedAt: next.lastNotifiedAt === null ? null : new Date(next.lastNotifiedAt),
          lastCheckedAt: new Date(windowEnd),
          lastErrorMessage: errorMessage,
          nextCheckAt: nextCheck(next.state, alert, windowEnd),
        })
        .where(and(eq(logsAlerts.id, alert.id), eq(logsAlerts.version, stored.version))),
      // Only while the row is still at the evaluated version: a raced edit or a delete drops the check whole.
      db
        .insert(logsAlertEvents)
        .select(
          db
            .select({
              id: sql`${eventId}`.as("id"),
              alertId: logsAlerts.id,
              kind: sql`'check'`.as("kind"),
              resultCount: sql`${outcome.ok ? outcome.count : null}`.as("result_count"),
              thresholdBreached: sql`${result.breached === null ? null : Number(result.breached)}`.as("threshold_breached"),
              stateBefore: sql`${machine.state}`.as("state_before"),
              stateAfter: sql`${next.state}`.as("state_after"),
              errorMessage: sql`${errorMessage}`.as("error_message"),
              queryDurationMs: sql`${queryDurationMs}`.as("query_duration_ms"),
              notification: sql`${result.notification}`.as("notification"),
              windowStart: sql`${windowStart}`.as("window_start"),
              windowEnd: sql`${windowEnd}`.as("window_end"),
              routine: sql`${Number(routine)}`.as("routine"),
              createdAt: sql`${Date.now()}`.as("created_at"),
            })
            .from(logsAlerts)
            .where(and(eq(logsAlerts.id, alert.id), eq(logsAlerts.version, stored.version))),
        )
        .onConflictDoNothing(),
      // Checks that changed nothing are kept only as the latest ten per alert.
      db
        .delete(logsAlertEvents)
        .where(
          and(
            eq(logsAlertEvents.alertId, alert.id),
            eq(logsAlertEvents.routine, true),
            lt(
              logsAlertEvents.windowEnd,
              db
                .select({ windowEnd: logsAlertEvents.windowEnd })
                .from(logsAlertEvents)
                .where(and(eq(logsAlertEvents.alertId, alert.id), eq(logsAlertEvents.routine, true)))
                .orderBy(desc(logsAlertEvents.windowEnd))
                .limit(1)
                .offset(HISTORY_LENGTH - 1),
            ),
          ),
        ),
    ]);
    if (((update as D1Result).meta?.changes ?? 0) === 0) return { status: "stale" };

    const event: NotificationEvent | null = eventType
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
            previous_state: machine.state,
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
      : null;
    const storage = this.ctx.storage.sql;
    this.ctx.storage.transactionSync(() => {
      storage.exec(
        `INSERT INTO machine (id, version, state, consecutive_failures, last_notified_at, last_window_end) VALUES (1, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, state = excluded.state, consecutive_failures = excluded.consecutive_failures,
           last_notified_at = excluded.last_notified_at, last_window_end = excluded.last_window_end`,
        stored.version,
        next.state,
        next.consecutiveFailures,
        next.lastNotifiedAt,
        windowEnd,
      );
      storage.exec(
        "INSERT OR REPLACE INTO checks (window_end, version, count, breached, error, state_after, notification) VALUES (?, ?, ?, ?, ?, ?, ?)",
        windowEnd,
        stored.version,
        outcome.ok ? outcome.count : null,
        result.breached === null ? null : Number(result.breached),
        errorMessage,
        next.state,
        result.notification,
      );
      storage.exec(
        "DELETE FROM checks WHERE window_end NOT IN (SELECT window_end FROM checks ORDER BY window_end DESC LIMIT ?)",
        HISTORY_LENGTH,
      );
      if (event) storage.exec("INSERT OR IGNORE INTO outbox (id, event) VALUES (?, ?)", event.id as string, JSON.stringify(event));
    });
    const published = event ? await this.flushOutbox(false) : false;
    return { status: "checked", state: next.state, notification: result.notification, published };
  }

  /** Takes the D1 row's state as the starting point (first check, or after a person's transition). */
  private adopt(alert: AlertRow): MachineRow {
    const machine = machineOf(alert);
    const row: MachineRow = {
      version: alert.version,
      state: machine.state,
      consecutive_failures: machine.consecutiveFailures,
      last_notified_at: machine.lastNotifiedAt,
      last_window_end: alert.lastCheckedAt?.getTime() ?? null,
    };
    this.ctx.storage.sql.exec(
      `INSERT INTO machine (id, version, state, consecutive_failures, last_notified_at, last_window_end) VALUES (1, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET version = excluded.version, state = excluded.state, consecutive_failures = excluded.consecutive_failures,
         last_notified_at = excluded.last_notified_at, last_window_end = excluded.last_window_end`,
      row.version,
      row.state,
      row.consecutive_failures,
      row.last_notified_at,
      row.last_window_end,
    );
    return row;
  }

  /**
   * Sends the pending notifications (their ids are deterministic, so a resend is deduplicated by
   * the notifications consumer). On failure an alarm retries; from the alarm the error propagates
   * so the runtime's alarm retries take over. Returns whether everything was sent.
   */
  private async flushOutbox(fromAlarm: boolean): Promise<boolean> {
    const rows = this.ctx.storage.sql.exec<{ id: string; event: string }>("SELECT id, event FROM outbox").toArray();
    if (!rows.length) return true;
    try {
      await publishEvents(
        this.env,
        rows.map((r) => JSON.parse(r.event) as NotificationEvent),
      );
    } catch (error) {
      if (fromAlarm) throw error;
      console.error("logs alert notification not enqueued; retrying from the alarm", error);
      await this.ctx.storage.setAlarm(Date.now() + OUTBOX_RETRY_MS);
      return false;
    }
    for (const row of rows) this.ctx.storage.sql.exec("DELETE FROM outbox WHERE id = ?", row.id);
    return true;
  }
}

/** After a check: nothing while broken, the end of a snooze, otherwise one check interval later. */
function nextCheck(state: AlertState, alert: AlertRow, windowEnd: number): Date | null {
  if (state === "broken") return null;
  if (state === "snoozed" && alert.snoozeUntil && alert.snoozeUntil.getTime() > windowEnd)
    return new Date(ceilMinute(alert.snoozeUntil.getTime()));
  return new Date(windowEnd + alert.checkIntervalMinutes * MINUTE_MS);
}
