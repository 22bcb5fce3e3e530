export type SqlValue = string | number | null;

/**
 * Numbered bound parameters (`?1`, `?2`, ...) for hand-built SQL: a value used in several places
 * (one filter repeated per partition of a query) is bound once, which keeps queries under D1's
 * 100-parameter limit.
 */
export class SqlParams {
  readonly values: SqlValue[] = [];
  private readonly index = new Map<SqlValue, number>();

  add(value: SqlValue): string {
    let n = this.index.get(value);
    if (n === undefined) {
      this.values.push(value);
      n = this.values.length;
      this.index.set(value, n);
    }
    return `?${n}`;
  }

  /** `column = ?` for one value, `column IN (SELECT value FROM json_each(?))` for a list (one parameter whatever its length). */
  in(column: string, values: readonly (string | number)[]): string {
    if (values.length === 1) return `${column} = ${this.add(values[0]!)}`;
    return `${column} IN (SELECT value FROM json_each(${this.add(JSON.stringify(values))}))`;
  }
}

/**
 * `a OP b OP c ...` as a balanced tree of parenthesised halves: SQLite caps expression depth at
 * 100, which a flat chain of 125 alternatives (or 100 detail filters) would exceed.
 */
export function balanced(terms: string[], op: "AND" | "OR"): string {
  if (terms.length <= 2) return terms.length === 2 ? `${terms[0]} ${op} ${terms[1]}` : (terms[0] ?? (op === "AND" ? "1" : "0"));
  const middle = Math.ceil(terms.length / 2);
  return `(${balanced(terms.slice(0, middle), op)}) ${op} (${balanced(terms.slice(middle), op)})`;
}
