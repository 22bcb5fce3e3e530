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
