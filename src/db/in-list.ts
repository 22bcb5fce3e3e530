import { type Column, type SQL, sql } from "drizzle-orm";

/**
 * `column IN (values)` bound as one JSON parameter: D1 refuses statements with more than 100
 * bound parameters, which drizzle's `inArray` (one per value) reaches with 100 ids.
 */
export const inList = (column: Column | SQL, values: readonly (string | number)[]): SQL =>
  sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(values)}))`;
