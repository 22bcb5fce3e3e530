// The logs alert state machine, as PostHog's `alert_state_machine.py`, as a pure function so the
// Durable Object, the simulator and the tests all run exactly the same rules.

export const ALERT_STATES = ["not_firing", "firing", "errored", "snoozed", "broken"] as const;
export type AlertState = (typeof ALERT_STATES)[number];

export type AlertNotification = "firing" | "resolved" | "errored" | "broken";

/** Consecutive query failures that turn an alert `broken` until someone resets it. */
export const BROKEN_AFTER_FAILURES = 5;
/** How many recent check outcomes are kept (the largest allowed evaluation_periods). */
export const HISTORY_LENGTH = 10;

export interface AlertRules {
  thresholdCount: number;
  thresholdOperator: "above" | "below";
  /** M: how many recent checks are looked at. */
  evaluationPeriods: number;
  /** N: how many of those must breach to fire. */
  datapointsToAlarm: number;
  cooldownMinutes: number;
  snoozeUntil: number | null;
}

export interface AlertMachine {
  state: AlertState;
  consecutiveFailures: number;
  lastNotifiedAt: number | null;
  /** Outcomes of the latest successful checks, newest first (true = breached). */
  recentBreaches: boolean[];
}

export type CheckOutcome = { ok: true; count: number } | { ok: false; error: string };

export interface Evaluation {
  machine: AlertMachine;
  /** Whether this check's count breached the threshold (null when the query failed or was skipped). */
  breached: boolean | null;
  /** The notification the transition calls for, or null. */
  notification: AlertNotification | null;
  /** True when `notification` was dropped because the cooldown has not elapsed. */
  suppressedByCooldown: boolean;
  reason: string;
}

export const isBreached = (rules: Pick<AlertRules, "thresholdCount" | "thresholdOperator">, count: number) =>
  rules.thresholdOperator === "above" ? count > rules.thresholdCount : count < rules.thresholdCount;

/** Whether an alert in this state is evaluated at all (broken waits for a reset, snoozed for its end). */
export function isEvaluable(machine: AlertMachine, rules: AlertRules, now: number): boolean {
  if (machine.state === "broken") return false;
  if (machine.state === "snoozed") return rules.snoozeUntil !== null && now >= rules.snoozeUntil;
  return true;
}

/** Applies one check outcome at time `now`. */
export function evaluate(rules: AlertRules, machine: AlertMachine, outcome: CheckOutcome, now: number): Evaluation {
  if (!isEvaluable(machine, rules, now)) {
    return { machine, breached: null, notification: null, suppressedByCooldown: false, reason: `${machine.state}: not evaluated` };
  }
  // A snooze that has run out behaves as not_firing.
  const from: AlertState = machine.state === "snoozed" ? "not_firing" : machine.state;

  if (!outcome.ok) {
    const failures = machine.consecutiveFailures + 1;
    if (failures >= BROKEN_AFTER_FAILURES) {
      return notify(
        rules,
        { ...machine, state: "broken", consecutiveFailures: failures },
        "broken",
        now,
        null,
        `${failures} consecutive query failures`,
      );
    }
    const next = { ...machine, state: "errored" as const, consecutiveFailures: failures };
    if (from === "errored")
      return {
        machine: next,
        breached: null,
        notification: null,
        suppressedByCooldown: false,
        reason: `query failed again: ${outcome.error}`,
      };
    return notify(rules, next, "errored", now, null, `query failed: ${outcome.error}`);
  }

  const breached = isBreached(rules, outcome.count);
  const recentBreaches = [breached, ...machine.recentBreaches].slice(0, HISTORY_LENGTH);
  const breaches = recentBreaches.slice(0, rules.evaluationPeriods).filter(Boolean).length;
  const base: AlertMachine = { ...machine, consecutiveFailures: 0, recentBreaches };
  const comparison = `${outcome.count} ${rules.thresholdOperator === "above" ? ">" : "<"} ${rules.thresholdCount}`;

  if (from === "firing") {
    if (breached) return quiet({ ...base, state: "firing" }, true, `still breached (${comparison})`);
    return notify(rules, { ...base, state: "not_firing" }, "resolved", now, false, `back within threshold (count ${outcome.count})`);
  }
  if (breaches >= rules.datapointsToAlarm) {
    return notify(
      rules,
      { ...base, state: "firing" },
      "firing",
      now,
      breached,
      `${breaches} of the last ${rules.evaluationPeriods} checks breached (${comparison})`,
    );
  }
  return quiet(
    { ...base, state: "not_firing" },
    breached,
    `${breaches} of the last ${rules.evaluationPeriods} checks breached; ${rules.datapointsToAlarm} needed`,
  );
}

/** `recentBreaches` as the D1 mirror stores it: bit i is the i-th newest outcome (1 = breached). */
export function breachBits(recentBreaches: boolean[]): number {
  let bits = 0;
  for (const [i, breached] of recentBreaches.slice(0, HISTORY_LENGTH).entries()) if (breached) bits |= 1 << i;
  return bits;
}

/**
 * The outcomes a bitmap stands for, newest first, up to its oldest breach: an outcome the bitmap
 * does not show counts as "not breached", which is all `evaluate` needs (it counts breaches).
 */
export function breachesFromBits(bits: number): boolean[] {
  const out: boolean[] = [];
  for (let rest = bits & ((1 << HISTORY_LENGTH) - 1); rest; rest >>= 1) out.push((rest & 1) === 1);
  return out;
}

/**
 * The check shortcut: the evaluation of a successful check that changes nothing but the alert's
 * history and schedule (a not_firing alert that stays not_firing, a firing one still breached; no
 * failures before, no notification, none dropped by the cooldown), or null when the check may
 * transition, notify or reset failures. It is `evaluate` itself, so a check decided from it is
 * exactly the check the Durable Object would have run on the same history.
 */
export function routineCheck(rules: AlertRules, machine: AlertMachine, outcome: CheckOutcome, now: number): Evaluation | null {
  if (!outcome.ok || machine.consecutiveFailures !== 0) return null;
  if (machine.state !== "not_firing" && machine.state !== "firing") return null;
  const result = evaluate(rules, machine, outcome, now);
  const unchanged =
    result.machine.state === machine.state &&
    result.machine.consecutiveFailures === 0 &&
    result.machine.lastNotifiedAt === machine.lastNotifiedAt &&
    result.notification === null &&
    !result.suppressedByCooldown;
  return unchanged ? result : null;
}

function quiet(machine: AlertMachine, breached: boolean, reason: string): Evaluation {
  return { machine, breached, notification: null, suppressedByCooldown: false, reason };
}

/** Cooldown drops the notification, never the transition. */
function notify(
  rules: AlertRules,
  machine: AlertMachine,
  notification: AlertNotification,
  now: number,
  breached: boolean | null,
  reason: string,
): Evaluation {
  const cooling = machine.lastNotifiedAt !== null && now < machine.lastNotifiedAt + rules.cooldownMinutes * 60_000;
  if (cooling)
    return { machine, breached, notification: null, suppressedByCooldown: true, reason: `${reason}; notification suppressed by cooldown` };
  return { machine: { ...machine, lastNotifiedAt: now }, breached, notification, suppressedByCooldown: false, reason };
}

// Control-plane transitions: what a person's edit does to the state (PostHog's priority in one
// edit: enable/disable, then snooze/unsnooze, then a change of the rules).

export type ControlKind = "enable" | "disable" | "snooze" | "unsnooze" | "threshold_change" | "reset";
export type AlertEventKind = "check" | ControlKind;

export interface ControlEdit {
  wasEnabled: boolean;
  enabled: boolean;
  snoozeBefore: number | null;
  snoozeAfter: number | null;
  /** Threshold, operator, filters, window, N or M changed. */
  rulesChanged: boolean;
}

export interface ControlTransition {
  kind: ControlKind;
  state: AlertState;
  consecutiveFailures: number;
}

type CurrentState = Pick<AlertMachine, "state" | "consecutiveFailures">;

export function controlTransition(current: CurrentState, edit: ControlEdit, now: number): ControlTransition | null {
  const snoozing = edit.snoozeAfter !== null && edit.snoozeAfter > now;
  if (!edit.wasEnabled && edit.enabled) return { kind: "enable", state: snoozing ? "snoozed" : "not_firing", consecutiveFailures: 0 };
  if (edit.wasEnabled && !edit.enabled) return { kind: "disable", state: "not_firing", consecutiveFailures: current.consecutiveFailures };
  if (edit.snoozeAfter !== edit.snoozeBefore) {
    if (snoozing) return { kind: "snooze", state: "snoozed", consecutiveFailures: current.consecutiveFailures };
    if (edit.snoozeAfter === null && current.state === "snoozed") return { kind: "unsnooze", state: "not_firing", consecutiveFailures: 0 };
  }
  if (edit.rulesChanged) {
    return { kind: "threshold_change", state: current.state === "snoozed" ? "snoozed" : "not_firing", consecutiveFailures: 0 };
  }
  return null;
}

/** `reset` only takes a broken alert back to not_firing; null for any other state. */
export function resetTransition(current: CurrentState): ControlTransition | null {
  return current.state === "broken" ? { kind: "reset", state: "not_firing", consecutiveFailures: 0 } : null;
}
