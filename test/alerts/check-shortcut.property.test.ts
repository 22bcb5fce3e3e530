// The check shortcut against the object-only path, over random sequences (fast-check): the same
// checks, person's edits and lost commits go through two systems built from the real pure pieces
// (`evaluate`, `decideInConsumer`, `checkWrite`, the object's `resume`, `planUpdate`):
//  - "object only": every check runs in the alert's Durable Object, as before the shortcut;
//  - "shortcut": the consumer decides checks that change nothing from the D1 mirror and hands the
//    rest to the object.
// D1 is modelled by what the SQL of check-writes.ts does (compare-and-set on version, first writer
// of a window wins, the consumer's own compare-and-set and the object mark); the integration tests
// (check-shortcut.test.ts) hold that SQL to the same rules.
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AlertMachine, breachesFromBits, type CheckOutcome, evaluate, isEvaluable } from "../../src/alerts/alert.machine";
import { type AlertRow, machineOf, planUpdate, rulesOf } from "../../src/alerts/alerts.queries";
import type { AlertUpdate } from "../../src/alerts/alerts.schemas";
import { type CheckWrite, checkWrite, decideInConsumer, nextCheck } from "../../src/alerts/check-writes";
import { resume } from "../../src/alerts/logs-alert.object";
import { createDb } from "../../src/db/client";
import type { NotificationEvent } from "../../src/lib/messages";

const MINUTE = 60_000;
const T0 = Date.UTC(2030, 0, 1);
const INTERVAL = 5 * MINUTE;

type Step =
  | { kind: "check"; count: number; lose: boolean }
  | { kind: "error"; lose: boolean }
  | { kind: "threshold"; threshold: number }
  | { kind: "snooze"; minutes: number }
  | { kind: "unsnooze" }
  | { kind: "reset" };

interface ObjectModel {
  version: number;
  lastWindowEnd: number | null;
  machine: AlertMachine;
  unconfirmed: CheckWrite[];
}

type EventFields = Omit<CheckWrite["event"], "createdAt"> & { windowEnd: number; stateAfter: string };

/** One alert as D1, its Durable Object and the notification queue see it. */
class System {
  row: AlertRow;
  object: ObjectModel | null = null;
  readonly events = new Map<string, EventFields>();
  readonly published: NotificationEvent[] = [];
  decided = 0;
  toObject = 0;

  constructor(
    row: AlertRow,
    private readonly shortcut: boolean,
  ) {
    this.row = { ...row };
  }

  async check(windowEnd: number, outcome: CheckOutcome, lose: boolean) {
    const row = this.row;
    // The chunk's re-read: enabled and due; a window D1 already shows is a duplicate.
    if (!row.enabled || row.nextCheckAt === null || row.nextCheckAt.getTime() > windowEnd) return;
    if (windowEnd <= (row.lastCheckedAt?.getTime() ?? 0)) return;
    if (this.shortcut) {
      const decided = await decideInConsumer({ ...row }, outcome, windowEnd, 1, 0);
      if (decided) {
        this.decided++;
        this.commitRoutine(decided.write, decided.readLastCheckedAt);
        return;
      }
      // The mark lands with the consumer's first batch, before the object is called.
      row.objectWindowEnd = new Date(Math.max(row.objectWindowEnd?.getTime() ?? 0, windowEnd));
    }
    this.toObject++;
    const result = await this.objectCheck({ ...row }, windowEnd, outcome);
    if (!lose) this.commit(result.writes, result.reschedule);
  }

  /** `LogsAlertObject.runCheck` over plain data. */
  private async objectCheck(alert: AlertRow, windowEnd: number, outcome: CheckOutcome) {
    const stored = this.object;
    const step = resume(stored && { version: stored.version, lastWindowEnd: stored.lastWindowEnd }, alert, windowEnd);
    if (step === "stale" || step === "duplicate") return { writes: [] as CheckWrite[] };
    let object = stored;
    if (step === "adopt" || !object) {
      object = {
        version: alert.version,
        lastWindowEnd: alert.lastCheckedAt?.getTime() ?? null,
        machine: machineOf(alert, breachesFromBits(alert.recentBreaches ?? 0)),
        unconfirmed: [],
      };
    }
    const landed = alert.lastCheckedAt?.getTime() ?? 0;
    object.unconfirmed = object.unconfirmed.filter((w) => w.windowEnd > landed);
    const replays = [...object.unconfirmed];
    const rules = rulesOf(alert);
    this.object = object;
    if (!isEvaluable(object.machine, rules, windowEnd)) {
      return { writes: replays, reschedule: { version: object.version, nextCheckAt: nextCheck(object.machine.state, alert, windowEnd) } };
    }
    const result = evaluate(rules, object.machine, outcome, windowEnd);
    const write = await checkWrite({
      alert,
      version: object.version,
      windowEnd,
      before: object.machine,
      result,
      outcome,
      queryDurationMs: 1,
      createdAt: 0,
    });
    this.object = { ...object, machine: result.machine, lastWindowEnd: windowEnd, unconfirmed: [...object.unconfirmed, write] };
    return { writes: [...replays, write] };
  }

  private insertEvent(w: CheckWrite) {
    if (this.events.has(w.event.id)) return;
    const { createdAt: _, ...event } = w.event;
    this.events.set(w.event.id, { ...event, windowEnd: w.windowEnd, stateAfter: w.state });
  }

  /** `commitChecks`: which writes land (read before the update), their notifications, UPDATE_STATES, INSERT_EVENTS, RESCHEDULE. */
  private commit(writes: CheckWrite[], reschedule?: { version: number; nextCheckAt: number | null }) {
    const row = this.row;
    const lands = (w: CheckWrite) => row.version === w.version && (row.lastCheckedAt === null || row.lastCheckedAt.getTime() < w.windowEnd);
    for (const w of writes) if (w.publish && lands(w)) this.published.push(w.publish);
    const latest = writes.reduce<CheckWrite | undefined>((a, w) => (!a || a.windowEnd < w.windowEnd ? w : a), undefined);
    if (latest && lands(latest)) {
      row.state = latest.state;
      row.consecutiveFailures = latest.consecutiveFailures;
      row.lastNotifiedAt = latest.lastNotifiedAt === null ? null : new Date(latest.lastNotifiedAt);
      row.lastCheckedAt = new Date(latest.windowEnd);
      row.lastErrorMessage = latest.lastErrorMessage;
      row.nextCheckAt = latest.nextCheckAt === null ? null : new Date(latest.nextCheckAt);
      row.recentBreaches = latest.recentBreaches;
    }
    for (const w of writes) if (w.version === row.version) this.insertEvent(w);
    if (reschedule && reschedule.version === row.version) {
      row.nextCheckAt = reschedule.nextCheckAt === null ? null : new Date(reschedule.nextCheckAt);
    }
  }

  /** `commitRoutineChecks`: the consumer's compare-and-set, then the event of a row it moved. */
  private commitRoutine(w: CheckWrite, readLastCheckedAt: number | null) {
    const row = this.row;
    const landed = row.lastCheckedAt?.getTime() ?? null;
    const objectCaughtUp = row.objectWindowEnd === null || (landed !== null && row.objectWindowEnd.getTime() <= landed);
    if (
      row.version === w.version &&
      landed === readLastCheckedAt &&
      row.state === w.state &&
      row.consecutiveFailures === 0 &&
      objectCaughtUp
    ) {
      row.lastCheckedAt = new Date(w.windowEnd);
      row.nextCheckAt = w.nextCheckAt === null ? null : new Date(w.nextCheckAt);
      row.recentBreaches = w.recentBreaches;
      row.lastErrorMessage = null;
    }
    if (row.version === w.version && row.lastCheckedAt?.getTime() === w.windowEnd) this.insertEvent(w);
  }

  /** A person's edit, through the update planner (`planUpdate`) or the reset route's statement. */
  edit(patch: AlertUpdate | "reset", now: number) {
    if (patch === "reset") {
      if (this.row.state !== "broken") return;
      this.row = {
        ...this.row,
        state: "not_firing",
        consecutiveFailures: 0,
        lastErrorMessage: null,
        nextCheckAt: new Date(now),
        recentBreaches: 0,
        version: this.row.version + 1,
      };
      return;
    }
    this.row = { ...planUpdate(createDb(env.DB), this.row, patch, now).after };
  }

  /** What the D1 row shows of the alert's checks (the object mark is the shortcut's own bookkeeping). */
  snapshot() {
    const { objectWindowEnd: _, updatedAt: __, ...rest } = this.row;
    return rest;
  }
}

function baseRow(rules: { threshold: number; operator: "above" | "below"; m: number; n: number; cooldown: number }): AlertRow {
  return {
    id: "0190a1b2-0000-7000-8000-000000000001",
    organizationId: "0190a1b2-0000-7000-8000-0000000000aa",
    teamId: 1,
    name: "property",
    enabled: true,
    filters: { severityLevels: ["error"] },
    thresholdCount: rules.threshold,
    thresholdOperator: rules.operator,
    windowMinutes: 5,
    checkIntervalMinutes: 5,
    evaluationPeriods: rules.m,
    datapointsToAlarm: rules.n,
    cooldownMinutes: rules.cooldown,
    snoozeUntil: null,
    state: "not_firing",
    version: 1,
    nextCheckAt: new Date(T0),
    lastNotifiedAt: null,
    lastCheckedAt: null,
    recentBreaches: 0,
    objectWindowEnd: null,
    consecutiveFailures: 0,
    lastErrorMessage: null,
    firstEnabledAt: new Date(T0),
    createdById: null,
    createdAt: new Date(T0),
    updatedAt: new Date(T0),
  };
}

const rulesArb = fc
  .record({
    threshold: fc.integer({ min: 0, max: 6 }),
    operator: fc.constantFrom("above" as const, "below" as const),
    m: fc.integer({ min: 1, max: 10 }),
    cooldown: fc.constantFrom(0, 0, 5, 12, 30),
  })
  .chain((r) => fc.integer({ min: 1, max: r.m }).map((n) => ({ ...r, n })));

const stepArb = (losing: boolean): fc.Arbitrary<Step> => {
  const lose = losing
    ? fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) })
    : fc.constant(false);
  return fc.oneof(
    { weight: 24, arbitrary: fc.record({ kind: fc.constant("check" as const), count: fc.integer({ min: 0, max: 8 }), lose }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant("error" as const), lose }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("threshold" as const), threshold: fc.integer({ min: 0, max: 6 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("snooze" as const), minutes: fc.integer({ min: 1, max: 20 }) }) },
    { weight: 1, arbitrary: fc.constant({ kind: "unsnooze" as const }) },
    { weight: 2, arbitrary: fc.constant({ kind: "reset" as const }) },
  );
};

/** Runs the steps through both systems, one check window every 5 minutes; `each` sees them after every step. */
async function run(rules: Parameters<typeof baseRow>[0], steps: Step[], each?: (only: System, both: System) => void) {
  const reference = new System(baseRow(rules), false);
  const shortcut = new System(baseRow(rules), true);
  let windowEnd = T0;
  for (const step of steps) {
    const now = windowEnd - INTERVAL + 30_000;
    for (const system of [reference, shortcut]) {
      if (step.kind === "check") await system.check(windowEnd, { ok: true, count: step.count }, step.lose);
      else if (step.kind === "error") await system.check(windowEnd, { ok: false, error: "D1_ERROR: timeout" }, step.lose);
      else if (step.kind === "threshold") system.edit({ threshold_count: step.threshold }, now);
      else if (step.kind === "snooze") system.edit({ snooze_until: new Date(now + step.minutes * MINUTE).toISOString() }, now);
      else if (step.kind === "unsnooze") system.edit({ snooze_until: null }, now);
      else system.edit("reset", now);
    }
    if (step.kind === "check" || step.kind === "error") windowEnd += INTERVAL;
    each?.(reference, shortcut);
  }
  return { reference, shortcut, windowEnd };
}

const sorted = (events: Map<string, EventFields>) => [...events.values()].sort((a, b) => a.windowEnd - b.windowEnd);

describe("check shortcut (property)", { timeout: 120_000 }, () => {
  it("gives the same states, events and notifications as running every check in the object", async () => {
    let decided = 0;
    let toObject = 0;
    await fc.assert(
      fc.asyncProperty(rulesArb, fc.array(stepArb(false), { minLength: 1, maxLength: 50, size: "max" }), async (rules, steps) => {
        const { reference, shortcut } = await run(rules, steps, (r, s) => {
          expect(s.snapshot()).toEqual(r.snapshot());
          expect(s.published).toEqual(r.published);
        });
        expect(sorted(shortcut.events)).toEqual(sorted(reference.events));
        decided += shortcut.decided;
        toObject += shortcut.toObject;
      }),
      { numRuns: 300 },
    );
    // Both paths were exercised, many times over (about 6,000 checks in all).
    expect(decided).toBeGreaterThan(1000);
    expect(toObject).toBeGreaterThan(1000);
  });

  it("loses no transition or notification when object commits are lost (the object mark keeps the alert with its object)", async () => {
    await fc.assert(
      fc.asyncProperty(rulesArb, fc.array(stepArb(true), { minLength: 1, maxLength: 50, size: "max" }), async (rules, steps) => {
        // A last check whose commit lands, and then one more: every lost commit has been replayed by then.
        const { reference, shortcut, windowEnd } = await run(rules, [
          ...steps,
          { kind: "check", count: 0, lose: false },
          { kind: "check", count: 0, lose: false },
        ]);
        expect(shortcut.published).toEqual(reference.published);
        const transitions = (s: System) => sorted(s.events).filter((e) => !e.routine);
        expect(transitions(shortcut)).toEqual(transitions(reference));
        // A routine check the object path lost is one the shortcut may still have recorded, never the reverse.
        const routine = (s: System) => sorted(s.events).filter((e) => e.routine);
        expect(routine(shortcut)).toEqual(expect.arrayContaining(routine(reference)));
        if (reference.row.lastCheckedAt?.getTime() === windowEnd - INTERVAL) expect(shortcut.snapshot()).toEqual(reference.snapshot());
      }),
      { numRuns: 300 },
    );
  });
});
