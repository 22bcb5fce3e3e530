import { DurableObject } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { createDb } from "../db/client";
import { logsAlerts } from "../db/schema";
import type { Env } from "../env";
import type { NotificationEvent } from "../lib/messages";
import { SerialQueue } from "../lib/serial-queue";
import { iso } from "../lib/time";
import {
  type AlertMachine,
  type AlertNotification,
  type AlertState,
  type CheckOutcome,
  evaluate,
  HISTORY_LENGTH,
  isEvaluable,
} from "./alert.machine";
import { type AlertRow, ceilMinute, MINUTE_MS, machineOf, rulesOf, uuidFromKey } from "./alerts.queries";
import { type CheckWrite, commitChecks, type Reschedule } from "./check-writes";

export interface CheckRequest {
  /** End of the window to evaluate (a minute boundary); also the check's idempotency key. */
  windowEnd: number;
  /** The alert as the chunk consumer read it from D1. */
  alert: AlertRow;
  /** The window's count (or the query's failure), from the logs query layer. */
  outcome: CheckOutcome;
  queryDurationMs: number | null;
}

export type CheckResult =
  | {
      status: "checked";
      state: AlertState;
      notification: AlertNotification | null;
      /** For the caller to commit: checks whose D1 write has not landed yet, then this one. */
      writes: CheckWrite[];
    }
  /** Already evaluated this window (or a later one). */
  | { status: "duplicate" }
  /** A person changed the alert since the chunk consumer read it; the next tick evaluates the new version. */
  | { status: "stale" }
  /** Not evaluated: broken, or still snoozed. */
  | { status: "skipped"; reason: string; writes: CheckWrite[]; reschedule: Reschedule };

const PUBLISHED: Partial<Record<AlertNotification, NotificationEvent["type"]>> = {
  firing: "logs_alert_firing",
  resolved: "logs_alert_resolved",
  broken: "logs_alert_broken",
};

/** A notifying check not confirmed in D1 by then is written and published by the object's alarm. */
const UNCONFIRMED_GRACE_MS = 10 * MINUTE_MS;

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
 * machine over its recent history and hands back what D1 must record; the window end keys every
 * check, so a repeated tick or a retried call for a window already evaluated is a no-op.
 *
 * Storage: `machine` (one row: the state after the last check and the D1 `version` it belongs to),
 * `checks` (the last HISTORY_LENGTH outcomes) and `unconfirmed` (checks whose D1 write has not been
 * seen yet: replayed with the next check, or by the alarm, until the D1 row shows them).
 */
export class LogsAlertObject extends DurableObject<Env> {
  private readonly checks = new SerialQueue();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS machine (
        id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, state TEXT NOT NULL,
        consecutive_failures INTEGER NOT NULL, last_notified_at INTEGER, last_window_end INTEGER);
      CREATE TABLE IF NOT EXISTS checks (
        window_end INTEGER PRIMARY KEY, version INTEGER NOT NULL, count INTEGER, breached INTEGER,
        error TEXT, state_after TEXT NOT NULL, notification TEXT);
      CREATE TABLE IF NOT EXISTS unconfirmed (window_end INTEGER PRIMARY KEY, write TEXT NOT NULL);
    `);
  }

  /** Evaluates one window, at most once. */
  check(request: CheckRequest): Promise<CheckResult> {
    return this.checks.run(() => this.runCheck(request));
  }

  /** Commits notifying checks the chunk consumer never confirmed (it failed between this object and D1). */
  override async alarm(): Promise<void> {
    await this.checks.run(async () => {
      const pending = this.unconfirmed();
      const [first] = pending;
      if (!first) return;
      const [row] = await createDb(this.env.DB)
        .select({ lastCheckedAt: logsAlerts.lastCheckedAt })
        .from(logsAlerts)
        .where(eq(logsAlerts.id, first.alertId));
      // A deleted alert has nothing left to write.
      const landed = row ? (row.lastCheckedAt?.getTime() ?? 0) : Number.POSITIVE_INFINITY;
      const missing = pending.filter((w) => w.windowEnd > landed);
      if (missing.length) await commitChecks(this.env, missing);
      this.ctx.storage.sql.exec("DELETE FROM unconfirmed");
    });
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

  private unconfirmed(): CheckWrite[] {
    return this.ctx.storage.sql
      .exec<{ write: string }>("SELECT write FROM unconfirmed ORDER BY window_end")
      .toArray()
      .map((r) => JSON.parse(r.write) as CheckWrite);
  }

  private saveMachine(row: MachineRow): void {
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
  }

  /** The D1 row becomes the starting point: first check, a person's transition, or storage behind D1. */
  private adopt(alert: AlertRow): MachineRow {
    const machine = machineOf(alert);
    const row: MachineRow = {
      version: alert.version,
      state: machine.state,
      consecutive_failures: machine.consecutiveFailures,
      last_notified_at: machine.lastNotifiedAt,
      last_window_end: alert.lastCheckedAt?.getTime() ?? null,
    };
    this.ctx.storage.transactionSync(() => {
      this.saveMachine(row);
      this.ctx.storage.sql.exec("DELETE FROM unconfirmed");
    });
    return row;
  }

  private async runCheck({ windowEnd, alert, outcome, queryDurationMs }: CheckRequest): Promise<CheckResult> {
    let stored = this.loadMachine();
    if (stored && alert.version < stored.version) return { status: "stale" };
    const landed = alert.lastCheckedAt?.getTime() ?? 0;
    if (windowEnd <= Math.max(stored?.last_window_end ?? 0, landed)) return { status: "duplicate" };
    if (!stored || alert.version > stored.version || landed > (stored.last_window_end ?? 0)) stored = this.adopt(alert);
    // What the D1 row already shows is confirmed; the rest is written again with this check.
    this.ctx.storage.sql.exec("DELETE FROM unconfirmed WHERE window_end <= ?", landed);
    const replays = this.unconfirmed();

    const machine: AlertMachine = {
      state: stored.state,
      consecutiveFailures: stored.consecutive_failures,
      lastNotifiedAt: stored.last_notified_at,
      recentBreaches: this.recentBreaches(stored.version),
    };
    const rules = rulesOf(alert);
    if (!isEvaluable(machine, rules, windowEnd)) {
      const reschedule = { alertId: alert.id, version: stored.version, nextCheckAt: nextCheck(machine.state, alert, windowEnd) };
      return { status: "skipped", reason: machine.state, writes: replays, reschedule };
    }

    const result = evaluate(rules, machine, outcome, windowEnd);
    const next = result.machine;
    const windowStart = windowEnd - alert.windowMinutes * MINUTE_MS;
    const errorMessage = outcome.ok ? null : outcome.error.slice(0, 1000);
    const eventType = result.notification ? PUBLISHED[result.notification] : undefined;
    const write: CheckWrite = {
      alertId: alert.id,
      version: stored.version,
      windowStart,
      windowEnd,
      state: next.state,
      consecutiveFailures: next.consecutiveFailures,
      lastNotifiedAt: next.lastNotifiedAt,
      lastErrorMessage: errorMessage,
      nextCheckAt: nextCheck(next.state, alert, windowEnd),
      event: {
        id: await uuidFromKey(`logs_alert:${alert.id}:${windowEnd}`),
        resultCount: outcome.ok ? outcome.count : null,
        thresholdBreached: result.breached,
        stateBefore: machine.state,
        errorMessage,
        queryDurationMs,
        notification: result.notification,
        routine: outcome.ok && next.state === machine.state && !result.notification,
        createdAt: Date.now(),
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
        : null,
    };

    const sql = this.ctx.storage.sql;
    this.ctx.storage.transactionSync(() => {
      this.saveMachine({
        version: stored.version,
        state: next.state,
        consecutive_failures: next.consecutiveFailures,
        last_notified_at: next.lastNotifiedAt,
        last_window_end: windowEnd,
      });
      sql.exec(
        "INSERT OR REPLACE INTO checks (window_end, version, count, breached, error, state_after, notification) VALUES (?, ?, ?, ?, ?, ?, ?)",
        windowEnd,
        stored.version,
        outcome.ok ? outcome.count : null,
        result.breached === null ? null : Number(result.breached),
        errorMessage,
        next.state,
        result.notification,
      );
      sql.exec(
        "DELETE FROM checks WHERE window_end NOT IN (SELECT window_end FROM checks ORDER BY window_end DESC LIMIT ?)",
        HISTORY_LENGTH,
      );
      sql.exec("INSERT OR REPLACE INTO unconfirmed (window_end, write) VALUES (?, ?)", windowEnd, JSON.stringify(write));
    });
    if (write.publish && (await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + UNCONFIRMED_GRACE_MS);
    return { status: "checked", state: next.state, notification: result.notification, writes: [...replays, write] };
  }
}

/** After a check: nothing while broken, the end of a snooze, otherwise one check interval later. */
function nextCheck(state: AlertState, alert: AlertRow, windowEnd: number): number | null {
  if (state === "broken") return null;
  if (state === "snoozed" && alert.snoozeUntil && alert.snoozeUntil.getTime() > windowEnd) return ceilMinute(alert.snoozeUntil.getTime());
  return windowEnd + alert.checkIntervalMinutes * MINUTE_MS;
}

/** The object of an alert (one per alert id), typed by its class. */
export const alertStub = (env: Env, alertId: string) =>
  env.LOGS_ALERTS.get(env.LOGS_ALERTS.idFromName(alertId)) as DurableObjectStub<LogsAlertObject>;
