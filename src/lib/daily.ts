import type { Env } from "../env";

/** The daily sweeps start at this UTC hour; a tick that finds a sweep already done that day skips it. */
export const DAILY_HOUR_UTC = 3;

/**
 * Runs `sweep` from DAILY_HOUR_UTC on, once per UTC day. The day is marked done (under `key` in
 * `instance_settings`) only when the sweep reports `complete`, so a run cut short by its budget is
 * resumed by the next tick, and a missed tick is caught up by the next one.
 */
export async function oncePerDay<T extends { complete: boolean }>(
  env: Env,
  key: string,
  now: number,
  sweep: () => Promise<T>,
): Promise<T | null> {
  const date = new Date(now);
  if (date.getUTCHours() < DAILY_HOUR_UTC) return null;
  const today = date.toISOString().slice(0, 10);
  const last = await env.DB.prepare("SELECT value FROM instance_settings WHERE key = ?1").bind(key).first<{ value: string }>();
  if (last?.value === today) return null;
  const result = await sweep();
  if (result.complete) {
    await env.DB.prepare(
      "INSERT INTO instance_settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
      .bind(key, today)
      .run();
  }
  return result;
}
