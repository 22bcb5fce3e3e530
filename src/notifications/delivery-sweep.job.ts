import type { Env } from "../env";
import { sendMessages } from "../events/publish";
import { DELIVERY_SWEEP_GRACE_MS } from "./delivery";

/** Deliveries re-queued per cron tick at most (oldest overdue first); the rest wait for the next tick. */
export const DELIVERY_SWEEP_BATCH = 500;
/** A delivery the sweep re-queued is looked at again after as long as it has been stuck, within these bounds. */
const DELIVERY_SWEEP_MAX_INTERVAL_MS = 3_600_000;

// The overdue end of the partial index on sweep_at (unsettled deliveries only), re-armed in the same
// statement: a sweep that dies before its send leaves the rows to a later one, never to nobody.
export const DELIVERY_SWEEP_SQL = `UPDATE notification_deliveries
  SET sweep_at = ?1 + min(max(?1 - updated_at, ?2), ?3)
  WHERE id IN (SELECT id FROM notification_deliveries INDEXED BY notification_deliveries_sweep
    WHERE sweep_at <= ?1 AND status IN ('pending', 'retrying') ORDER BY sweep_at LIMIT ?4)
  RETURNING id, generation`;

/**
 * Cron job: re-queues deliveries left `pending` or `retrying` past their due time plus a grace
 * period: their queue message was lost (a dead isolate, a local runtime that keeps queued messages
 * and retry timers in memory) or the consumer died after sending but before recording. The message
 * carries the delivery's current generation and the same delivery id, which is the `webhook-id`, so
 * a receiver that already got it drops the copy; a message that was only late finds the delivery
 * settled and does nothing. Returns how many it re-queued.
 */
export async function sweepDeliveries(env: Env, now = Date.now(), limit = DELIVERY_SWEEP_BATCH): Promise<number> {
  const { results } = await env.DB.prepare(DELIVERY_SWEEP_SQL)
    .bind(now, DELIVERY_SWEEP_GRACE_MS, DELIVERY_SWEEP_MAX_INTERVAL_MS, limit)
    .all<{ id: string; generation: number }>();
  if (!results.length) return 0;
  console.warn(`delivery sweep: re-queued ${results.length} overdue deliveries`);
  await sendMessages(
    env,
    results.map(({ id, generation }) => ({ kind: "delivery", deliveryId: id, generation })),
  );
  return results.length;
}
