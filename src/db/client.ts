import { drizzle } from "drizzle-orm/d1";

export type Db = ReturnType<typeof createDb>;

// No `schema`: nothing uses the relational query API, and drizzle rebuilds the relational config
// of every table from the schema on each call, which every request paid (about 1 ms of CPU).
export function createDb(d1: D1Database) {
  return drizzle(d1, { casing: "snake_case" });
}
