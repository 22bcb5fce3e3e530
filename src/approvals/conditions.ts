import type { ChangeIntent, ComparisonOperator, FieldValues, PolicyConditions } from "../db/schema";

const COMPARE: Record<ComparisonOperator, (a: unknown, b: unknown) => boolean> = {
  ">": (a, b) => comparable(a, b) && (a as number) > (b as number),
  "<": (a, b) => comparable(a, b) && (a as number) < (b as number),
  ">=": (a, b) => comparable(a, b) && (a as number) >= (b as number),
  "<=": (a, b) => comparable(a, b) && (a as number) <= (b as number),
  "==": (a, b) => same(a, b),
  "!=": (a, b) => !same(a, b),
};

// Ordering only between two numbers or two strings: PostHog's Python raises (and skips) on mixed types.
const comparable = (a: unknown, b: unknown) => (typeof a === "number" || typeof a === "string") && typeof a === typeof b;
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

const byPath = (values: FieldValues | undefined) => new Map((values ?? []).map((v) => [v.path, v.value]));

/**
 * Whether a policy's conditions select this change (PostHog's PolicyEngine): empty conditions gate
 * every change; `before_after` compares any after-value with `value`; `change_amount` compares
 * after − before per path; `any_change` matches when any path's value differs.
 */
export function conditionsMatch(conditions: PolicyConditions | null, intent: ChangeIntent): boolean {
  if (!conditions || !("type" in conditions)) return true;
  const before = byPath(intent.current_state[conditions.field]);
  const after = byPath(intent.gated_changes[conditions.field]);
  switch (conditions.type) {
    case "before_after":
      return [...after.values()].some(
        (value) => value !== null && value !== undefined && COMPARE[conditions.operator](value, conditions.value),
      );
    case "change_amount":
      return [...after].some(([path, value]) => {
        const was = before.get(path);
        return typeof value === "number" && typeof was === "number" && COMPARE[conditions.operator](value - was, conditions.value);
      });
    case "any_change":
      return [...new Set([...before.keys(), ...after.keys()])].some((path) => !same(before.get(path) ?? null, after.get(path) ?? null));
    default:
      return true;
  }
}
