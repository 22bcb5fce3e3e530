import { refreshActivityIndexes, runDailyActivityRetention, runDailyCheckpointSigning } from "../activity";
import { evaluateDueAlerts } from "../alerts";
import { revalidatePendingChangeRequests } from "../approvals";
import { sealAllShards } from "../audit/sequencer";
import type { Env } from "../env";
import { sweepNotificationOutbox } from "../events/outbox-sweep.job";
import { expireExports, requeueStalledExports, runDailyStrayExportFiles } from "../exports";
import { log } from "../lib/log";
import { runDailyLogsRetention } from "../logs";
import { sweepDeliveries } from "../notifications";

/** The jobs of the every-minute Cron Trigger, by name; tests call each job function directly. */
export const SCHEDULED_JOBS: Record<string, (env: Env, scheduledTime: number) => Promise<unknown>> = {
  evaluateDueAlerts,
  sweepNotificationOutbox,
  // Deliveries whose queue message was lost: after the outbox sweep, which may create some.
  sweepDeliveries,
  revalidatePendingChangeRequests,
  requeueStalledExports,
  expireExports,
  // Catch-up for seals whose post-write call was lost; normally there is nothing left.
  sealActivityChain: sealAllShards,
  refreshActivityIndexes: (env) => refreshActivityIndexes(env.DB),
  // The daily sweeps decide themselves whether this minute is their minute.
  runDailyActivityRetention,
  runDailyCheckpointSigning,
  runDailyLogsRetention,
  runDailyStrayExportFiles,
};

/**
 * Runs the jobs one after another (D1 executes one statement at a time anyway, and alert
 * evaluation goes first); one job failing never keeps the others from running. Failures are
 * logged and rethrown together so the tick shows as failed.
 */
export async function runScheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
  const failures: string[] = [];
  for (const [name, job] of Object.entries(SCHEDULED_JOBS)) {
    try {
      await job(env, controller.scheduledTime);
    } catch (error) {
      log("error", "scheduled job failed", { job: name, error });
      failures.push(`${name}: ${String(error)}`);
    }
  }
  if (failures.length) throw new Error(`scheduled jobs failed: ${failures.join("; ")}`);
}
