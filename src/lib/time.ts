import type { Context } from "hono";
import { setMetric } from "hono/timing";

/** ISO 8601 UTC with `Z`, or null. The one place API timestamps are formatted. */
export function iso(value: Date | number | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return new Date(value).toISOString();
}

export function isoRequired(value: Date | number): string {
  return new Date(value).toISOString();
}

/** Awaits `work` and adds its duration to Server-Timing as `db`: the database's share of the request. */
export async function dbTimed<T>(c: Context, work: Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await work;
  setMetric(c, "db", Date.now() - started);
  return result;
}
