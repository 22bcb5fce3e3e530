import { and, eq, lte, sql } from "drizzle-orm";
import { createDb } from "../db/client";
import { logsAlerts } from "../db/schema";
import type { Env } from "../env";
import { log } from "../lib/log";
import type { AlertCheckMessage } from "../lib/messages";
import { countLogs } from "../logs";
import type { CheckOutcome } from "./alert.machine";
import { type AlertRow, filtersOf, MINUTE_MS } from "./alerts.queries";
import { BatchedReads } from "./batched-reads";
import {
  type CheckWrite,
  type ChunkRow,
  commitChecks,
  commitRoutineChecks,
  decideInConsumer,
  type Reschedule,
  type RoutineCheck,
} from "./check-writes";
import { alertStub, type CheckResult } from "./logs-alert.object";

/**
 * One chunk: reads the alerts that are still due (a redelivered message or a repeated tick finds
 * them done) and counts their windows. Checks that change nothing, as the D1 mirror shows, are
 * decided and recorded here without waking the alert's Durable Object; they land in one D1 batch
 * with the mark of the alerts whose checks go to their objects. Each of those runs in the alert's
 * object; what the objects answer is committed in a second batch with the chunk's record, then the
 * notifications are published.
 */
export async function checkAlertChunk(env: Env, chunk: AlertCheckMessage): Promise<ChunkRow> {
  const startedAt = Date.now();
  const db = createDb(env.DB);
  const alerts = await db
    .select()
    .from(logsAlerts)
    .where(
      and(
        sql`${logsAlerts.id} IN (SELECT value FROM json_each(${JSON.stringify(chunk.alertIds)}))`,
        eq(logsAlerts.enabled, true),
        lte(logsAlerts.nextCheckAt, new Date(chunk.windowEnd)),
      ),
    );
  const { outcomes, durationMs } = await countWindows(env, alerts, chunk.windowEnd);
  const routine: RoutineCheck[] = [];
  const toObjects: { alert: AlertRow; outcome: CheckOutcome }[] = [];
  for (const [i, alert] of alerts.entries()) {
    const outcome = outcomes[i] ?? { ok: false, error: "not counted" };
    // Already recorded (the object would answer "duplicate").
    if (chunk.windowEnd <= (alert.lastCheckedAt?.getTime() ?? 0)) continue;
    const decided = await decideInConsumer(alert, outcome, chunk.windowEnd, durationMs);
    if (decided) routine.push(decided);
    else toObjects.push({ alert, outcome });
  }
  // Throws on failure: the queue redelivers the chunk and nothing was handed to an object yet.
  const routineApplied = await commitRoutineChecks(
    env,
    routine,
    toObjects.map((c) => c.alert.id),
    chunk.windowEnd,
  );
  let failed = 0;
  const results = await Promise.all(
    toObjects.map(async ({ alert, outcome }): Promise<CheckResult | null> => {
      try {
        return await alertStub(env, alert.id).check({ windowEnd: chunk.windowEnd, alert, outcome, queryDurationMs: durationMs });
      } catch (error) {
        failed++;
        log("error", "logs alert check failed", { alert_id: alert.id, window_end: new Date(chunk.windowEnd).toISOString(), error });
        return null;
      }
    }),
  );
  const writes: CheckWrite[] = [];
  const reschedules: Reschedule[] = [];
  const current: number[] = [];
  for (const result of results) {
    if (result?.status === "checked" || result?.status === "skipped") writes.push(...result.writes);
    if (result?.status === "checked") current.push(writes.length - 1);
    if (result?.status === "skipped") reschedules.push(result.reschedule);
  }
  // Throws on failure: the queue redelivers the chunk, and the objects hand the same checks back.
  const { chunk: row } = await commitChecks(env, writes, reschedules, {
    id: chunk.id,
    windowEnd: chunk.windowEnd,
    due: chunk.alertIds.length,
    failed,
    decidedInConsumer: routineApplied.filter(Boolean).length,
    enqueuedAt: chunk.enqueuedAt,
    startedAt,
    current,
  });
  if (!row) throw new Error(`chunk ${chunk.id}: its record was not written`);
  return row;
}

/** The `edge-audit-alert-checks` consumer: each message is one chunk, retried on its own when it fails. */
export async function consumeAlertChecks(batch: MessageBatch<AlertCheckMessage>, env: Env): Promise<void> {
  await Promise.all(
    batch.messages.map(async (msg) => {
      try {
        await checkAlertChunk(env, msg.body);
        msg.ack();
      } catch (error) {
        log("error", "logs alert chunk failed; retrying", {
          chunk_id: msg.body.id,
          window_end: new Date(msg.body.windowEnd).toISOString(),
          error,
        });
        msg.retry({ delaySeconds: 5 });
      }
    }),
  );
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Each alert's window count through the logs query layer (`countLogs`), all of a chunk's queries in shared D1 batches. */
export async function countWindows(env: Env, alerts: AlertRow[], windowEnd: number) {
  const reads = new BatchedReads(env.DB);
  const db = reads.facade(createDb(env.DB));
  const started = Date.now();
  const settled = await reads.run(
    alerts.map((alert) => () => countLogs(db, alert.teamId, filtersOf(alert), windowEnd - alert.windowMinutes * MINUTE_MS, windowEnd)),
  );
  const outcomes = settled.map(
    (s): CheckOutcome => (s.status === "fulfilled" ? { ok: true, count: s.value } : { ok: false, error: message(s.reason) }),
  );
  return { outcomes, durationMs: Date.now() - started };
}
