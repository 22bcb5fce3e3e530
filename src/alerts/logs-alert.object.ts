import { DurableObject } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { createDb } from "../db/client";
import { logsAlerts } from "../db/schema";
import type { Env } from "../env";
import { SerialQueue } from "../lib/serial-queue";
import {
  type AlertMachine,
  type AlertNotification,
  type AlertState,
  breachBits,
  breachesFromBits,
  type CheckOutcome,
  evaluate,
  HISTORY_LENGTH,
  isEvaluable,
} from "./alert.machine";
import { type AlertRow, MINUTE_MS, machineOf, rulesOf } from "./alerts.queries";
import { type CheckWrite, checkWrite, commitChecks, nextCheck, type Reschedule } from "./check-writes";

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

/** A notifying check not confirmed in D1 by then is written and published by the object's alarm. */
const UNCONFIRMED_GRACE_MS = 10 * MINUTE_MS;

interface MachineRow {
  [key: string]: SqlStorageValue;
  version: number;
  state: AlertState;
  consecutive_failures: number;
  last_notified_at: number | null;
  last_window_end: number | null;
  /** The version's recent outcomes (`breachBits`); null in objects created before it was kept here. */
  recent_breaches: number | null;
}

/** Where the object stands against the D1 row the consumer read, before it evaluates `windowEnd`. */
export type Resume =
  /** The row is older than what the object saw: a person's transition raced the consumer's read. */
  | "stale"
  /** This window (or a later one) was already evaluated, by the object or as D1 shows. */
  | "duplicate"
  /** Start from the D1 row: first check, a new version, or D1 shows the object's last check (or later ones). */
  | "adopt"
  /** The object is ahead of D1 (checks whose commit has not been seen): go on from its own storage. */
  | "continue";

/**
 * D1 is the record: whenever it shows the object's last check (or checks decided without the object
 * since), the object starts from the row, history included. Only checks D1 does not show yet keep
 * the object ahead of it.
 */
export function resume(stored: { version: number; lastWindowEnd: number | null } | null, alert: AlertRow, windowEnd: number): Resume {
  if (stored && alert.version < stored.version) return "stale";
  const landed = alert.lastCheckedAt?.getTime() ?? 0;
  if (windowEnd <= Math.max(stored?.lastWindowEnd ?? 0, landed)) return "duplicate";
  if (!stored || alert.version > stored.version || landed >= (stored.lastWindowEnd ?? 0)) return "adopt";
  return "continue";
}

/**
 * One per logs alert (named by the alert id). It serialises the checks the chunk consumer does not
 * decide itself (those that may transition or notify: it is the only writer of transitions), runs
 * the state machine over its recent history and hands back what D1 must record; the window end
 * keys every check, so a repeated tick or a retried call for a window already evaluated is a no-op.
 *
 * Storage: `machine` (one row: the state and history bitmap after the last check, and the D1
 * `version` they belong to), `checks` (the last HISTORY_LENGTH checks it ran) and `unconfirmed`
 * (checks whose D1 write has not been seen yet: replayed with the next check, or by the alarm,
 * until the D1 row shows them). Whenever the D1 row shows its last check (or checks the consumer
 * decided since), it starts from the row.
 */
export class LogsAlertObject extends DurableObject<Env> {
  private readonly checks = new SerialQueue();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS machine (
        id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, state TEXT NOT NULL,
        consecutive_failures INTEGER NOT NULL, last_notified_at INTEGER, last_window_end INTEGER, recent_breaches INTEGER);
      CREATE TABLE IF NOT EXISTS checks (
        window_end INTEGER PRIMARY KEY, version INTEGER NOT NULL, count INTEGER, breached INTEGER,
        error TEXT, state_after TEXT NOT NULL, notification TEXT);
      CREATE TABLE IF NOT EXISTS unconfirmed (window_end INTEGER PRIMARY KEY, write TEXT NOT NULL);
    `);
    // Objects created before the history moved into `machine` get the column (their history is in `checks`).
    const columns = ctx.storage.sql.exec<{ name: string }>("PRAGMA table_info(machine)").toArray();
    if (!columns.some((c) => c.name === "recent_breaches")) ctx.storage.sql.exec("ALTER TABLE machine ADD COLUMN recent_breaches INTEGER");
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

  /** The version's recent outcomes, newest first. */
  private recentBreaches(row: MachineRow): boolean[] {
    if (row.recent_breaches !== null) return breachesFromBits(row.recent_breaches);
    return this.legacyBreaches(row.version);
  }

  /** Before `machine.recent_breaches`, the history was read from the `checks` the object ran. */
  private legacyBreaches(version: number): boolean[] {
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
      `INSERT INTO machine (id, version, state, consecutive_failures, last_notified_at, last_window_end, recent_breaches) VALUES (1, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET version = excluded.version, state = excluded.state, consecutive_failures = excluded.consecutive_failures,
         last_notified_at = excluded.last_notified_at, last_window_end = excluded.last_window_end, recent_breaches = excluded.recent_breaches`,
      row.version,
      row.state,
      row.consecutive_failures,
      row.last_notified_at,
      row.last_window_end,
      row.recent_breaches,
    );
  }

  /**
   * The D1 row as the starting point: first check, a person's transition, or D1 showing the object's
   * last check or later ones. Saved with the check that follows (nothing of it is pending any more).
   */
  private adopted(alert: AlertRow, stored: MachineRow | null): MachineRow {
    const machine = machineOf(alert);
    // The row's history; a row written before D1 kept it falls back on the object's own, for the same version.
    const history =
      alert.recentBreaches ?? (stored && stored.version === alert.version ? breachBits(this.recentBreaches(stored)) : breachBits([]));
    return {
      version: alert.version,
      state: machine.state,
      consecutive_failures: machine.consecutiveFailures,
      last_notified_at: machine.lastNotifiedAt,
      last_window_end: alert.lastCheckedAt?.getTime() ?? null,
      recent_breaches: history,
    };
  }

  private async runCheck({ windowEnd, alert, outcome, queryDurationMs }: CheckRequest): Promise<CheckResult> {
    const saved = this.loadMachine();
    const step = resume(saved && { version: saved.version, lastWindowEnd: saved.last_window_end }, alert, windowEnd);
    if (step === "stale" || step === "duplicate") return { status: step };
    const adopting = step === "adopt" || !saved;
    const stored = adopting ? this.adopted(alert, saved) : saved;
    const landed = alert.lastCheckedAt?.getTime() ?? 0;
    // What the D1 row already shows is confirmed (all of it when starting from the row); the rest is
    // written again with this check.
    const replays = adopting ? [] : this.unconfirmed().filter((w) => w.windowEnd > landed);
    const sql = this.ctx.storage.sql;
    const dropConfirmed = () => sql.exec("DELETE FROM unconfirmed WHERE window_end <= ?", adopting ? Number.MAX_SAFE_INTEGER : landed);

    const machine: AlertMachine = {
      state: stored.state,
      consecutiveFailures: stored.consecutive_failures,
      lastNotifiedAt: stored.last_notified_at,
      recentBreaches: this.recentBreaches(stored),
    };
    const rules = rulesOf(alert);
    if (!isEvaluable(machine, rules, windowEnd)) {
      if (adopting) {
        this.ctx.storage.transactionSync(() => {
          this.saveMachine(stored);
          dropConfirmed();
        });
      }
      const reschedule = { alertId: alert.id, version: stored.version, nextCheckAt: nextCheck(machine.state, alert, windowEnd) };
      return { status: "skipped", reason: machine.state, writes: replays, reschedule };
    }

    const result = evaluate(rules, machine, outcome, windowEnd);
    const next = result.machine;
    const version = stored.version;
    const write = await checkWrite({ alert, version, windowEnd, before: machine, result, outcome, queryDurationMs, createdAt: Date.now() });

    this.ctx.storage.transactionSync(() => {
      dropConfirmed();
      this.saveMachine({
        version,
        state: next.state,
        consecutive_failures: next.consecutiveFailures,
        last_notified_at: next.lastNotifiedAt,
        last_window_end: windowEnd,
        recent_breaches: write.recentBreaches,
      });
      sql.exec(
        "INSERT OR REPLACE INTO checks (window_end, version, count, breached, error, state_after, notification) VALUES (?, ?, ?, ?, ?, ?, ?)",
        windowEnd,
        version,
        outcome.ok ? outcome.count : null,
        result.breached === null ? null : Number(result.breached),
        write.lastErrorMessage,
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

/** The object of an alert (one per alert id), typed by its class. */
export const alertStub = (env: Env, alertId: string) =>
  env.LOGS_ALERTS.get(env.LOGS_ALERTS.idFromName(alertId)) as DurableObjectStub<LogsAlertObject>;
