import { describe, expect, it } from "vitest";
import { conditionsMatch } from "../../src/approvals/conditions";
import { formatDuration, parseDuration } from "../../src/approvals/duration";
import { changeIntent } from "../../src/approvals/registry";

describe("DRF durations", () => {
  it.each([
    ["14 00:00:00", 14 * 86400],
    ["1 day, 02:00:00", 93600],
    ["01:30:00", 5400],
    ["30:00", 1800],
    ["3600", 3600],
    ["P7D", 7 * 86400],
    ["PT1H30M", 5400],
    ["P2W", 14 * 86400],
    ["-1 00:00:00", -86400],
  ])("parses %s", (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(["", "soon", "P", "PT", "1:2:3:4", "7d"])("rejects %j", (text) => {
    expect(parseDuration(text)).toBeNull();
  });

  it("renders as DRF does", () => {
    expect(formatDuration(14 * 86400)).toBe("14 00:00:00");
    expect(formatDuration(5400)).toBe("01:30:00");
    expect(formatDuration(86400 + 61)).toBe("1 00:01:01");
  });
});

describe("policy conditions", () => {
  const rollout = (before: unknown, after: unknown) => ({
    ...changeIntent({ name: "f", before: {}, after: {}, request: {}, preconditions: {}, method: "PATCH" }),
    current_state: {
      rollout: [
        { path: "groups[0]", value: before },
        { path: "groups[1]", value: 5 },
      ],
    },
    gated_changes: {
      rollout: [
        { path: "groups[0]", value: after },
        { path: "groups[1]", value: 5 },
      ],
    },
  });

  it("gates every change when empty", () => {
    expect(conditionsMatch({}, rollout(1, 1))).toBe(true);
    expect(conditionsMatch(null, rollout(1, 1))).toBe(true);
  });

  it("before_after compares any new value with the threshold", () => {
    const over50 = { type: "before_after", field: "rollout", operator: ">", value: 50 } as const;
    expect(conditionsMatch(over50, rollout(10, 60))).toBe(true);
    expect(conditionsMatch(over50, rollout(60, 40))).toBe(false);
    expect(conditionsMatch(over50, rollout(10, "60"))).toBe(false);
    expect(conditionsMatch({ type: "before_after", field: "rollout", operator: "==", value: 5 }, rollout(0, 0))).toBe(true);
    expect(conditionsMatch({ type: "before_after", field: "absent", operator: "!=", value: 5 }, rollout(0, 0))).toBe(false);
  });

  it("change_amount compares new minus old per path", () => {
    const jump = { type: "change_amount", field: "rollout", operator: ">=", value: 20 } as const;
    expect(conditionsMatch(jump, rollout(10, 30))).toBe(true);
    expect(conditionsMatch(jump, rollout(10, 29))).toBe(false);
    expect(conditionsMatch({ type: "change_amount", field: "rollout", operator: "<", value: 0 }, rollout(50, 10))).toBe(true);
    expect(conditionsMatch(jump, rollout(null, 90))).toBe(false);
  });

  it("any_change matches when a path's value differs, including added or removed paths", () => {
    const changed = { type: "any_change", field: "rollout" } as const;
    expect(conditionsMatch(changed, rollout(10, 10))).toBe(false);
    expect(conditionsMatch(changed, rollout(10, 11))).toBe(true);
    expect(conditionsMatch(changed, rollout({ a: 1 }, { a: 1 }))).toBe(false);
    const removed = { ...rollout(1, 1), gated_changes: { rollout: [{ path: "groups[0]", value: 1 }] } };
    expect(conditionsMatch(changed, removed)).toBe(true);
  });
});
