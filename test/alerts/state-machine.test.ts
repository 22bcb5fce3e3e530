import { describe, expect, it } from "vitest";
import { type AlertMachine, type AlertRules, type CheckOutcome, evaluate } from "../../src/alerts/alert.machine";

const rules = (overrides: Partial<AlertRules> = {}): AlertRules => ({
  thresholdCount: 10,
  thresholdOperator: "above",
  evaluationPeriods: 1,
  datapointsToAlarm: 1,
  cooldownMinutes: 0,
  snoozeUntil: null,
  ...overrides,
});
const fresh = (overrides: Partial<AlertMachine> = {}): AlertMachine => ({
  state: "not_firing",
  consecutiveFailures: 0,
  lastNotifiedAt: null,
  recentBreaches: [],
  ...overrides,
});
const MINUTE = 60_000;

/** Feeds outcomes one minute apart; returns the state and notification after each. */
function run(r: AlertRules, outcomes: CheckOutcome[], start = fresh()) {
  let machine = start;
  return outcomes.map((outcome, i) => {
    const result = evaluate(r, machine, outcome, i * MINUTE + 1_000_000);
    machine = result.machine;
    return { state: machine.state, notification: result.notification, suppressed: result.suppressedByCooldown };
  });
}
const count = (n: number): CheckOutcome => ({ ok: true, count: n });
const fail: CheckOutcome = { ok: false, error: "timeout" };

describe("logs alert state machine", () => {
  it("fires on a breach and resolves on the first OK check", () => {
    expect(run(rules(), [count(5), count(11), count(50), count(3)])).toEqual([
      { state: "not_firing", notification: null, suppressed: false },
      { state: "firing", notification: "firing", suppressed: false },
      { state: "firing", notification: null, suppressed: false },
      { state: "not_firing", notification: "resolved", suppressed: false },
    ]);
  });

  it("treats the threshold as strict, and 'below' as the mirror", () => {
    expect(run(rules(), [count(10)])[0]?.state).toBe("not_firing");
    expect(run(rules({ thresholdCount: 0 }), [count(1)])[0]?.state).toBe("firing");
    expect(run(rules({ thresholdOperator: "below", thresholdCount: 1 }), [count(1), count(0)]).map((s) => s.state)).toEqual([
      "not_firing",
      "firing",
    ]);
  });

  it("needs N of the last M checks, not necessarily consecutive", () => {
    const r = rules({ evaluationPeriods: 3, datapointsToAlarm: 2 });
    expect(run(r, [count(20), count(1), count(1), count(20), count(1), count(20)]).map((s) => s.state)).toEqual([
      "not_firing", // 1 of 1
      "not_firing", // 1 of 2
      "not_firing", // 1 of 3
      "not_firing", // breach slid out: 1 of 3
      "not_firing",
      "firing", // 20, 1, 20 -> 2 of 3
    ]);
  });

  it("errors, notifies on the first error only, and breaks after 5 consecutive failures", () => {
    const states = run(rules(), [fail, fail, fail, fail, fail, count(100)]);
    expect(states.map((s) => [s.state, s.notification])).toEqual([
      ["errored", "errored"],
      ["errored", null],
      ["errored", null],
      ["errored", null],
      ["broken", "broken"],
      ["broken", null], // broken waits for a reset
    ]);
  });

  it("recovers from errored with a successful check and resets the failure count", () => {
    let machine = fresh();
    for (const outcome of [fail, fail, count(1)]) machine = evaluate(rules(), machine, outcome, Date.now()).machine;
    expect(machine).toMatchObject({ state: "not_firing", consecutiveFailures: 0 });
    const fired = evaluate(rules(), fresh({ state: "errored", consecutiveFailures: 2 }), count(99), Date.now());
    expect([fired.machine.state, fired.notification]).toEqual(["firing", "firing"]);
  });

  it("drops notifications inside the cooldown but still transitions", () => {
    const r = rules({ cooldownMinutes: 5 });
    const states = run(r, [count(20), count(1), count(20), count(1), count(1), count(1), count(1), count(1), count(20)]);
    expect(states.map((s) => [s.state, s.notification, s.suppressed])).toEqual([
      ["firing", "firing", false],
      ["not_firing", null, true],
      ["firing", null, true],
      ["not_firing", null, true],
      ["not_firing", null, false],
      ["not_firing", null, false],
      ["not_firing", null, false],
      ["not_firing", null, false],
      ["firing", "firing", false], // 8 minutes after the last notification
    ]);
  });

  it("stays snoozed until snooze_until, then evaluates as not_firing", () => {
    const now = 1_000_000;
    const snoozed = fresh({ state: "snoozed" });
    const during = evaluate(rules({ snoozeUntil: now + MINUTE }), snoozed, count(99), now);
    expect([during.machine.state, during.notification]).toEqual(["snoozed", null]);
    const after = evaluate(rules({ snoozeUntil: now + MINUTE }), snoozed, count(99), now + MINUTE);
    expect([after.machine.state, after.notification]).toEqual(["firing", "firing"]);
  });

  it("keeps at most 10 outcomes of history", () => {
    let machine = fresh();
    for (let i = 0; i < 15; i++) machine = evaluate(rules(), machine, count(i % 2 ? 20 : 1), i * MINUTE).machine;
    expect(machine.recentBreaches).toHaveLength(10);
  });
});
