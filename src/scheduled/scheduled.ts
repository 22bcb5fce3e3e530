import { refreshActivityIndexes } from "../activity/indexes.job";
import { runDailyActivityRetention } from "../activity/retention";
import { evaluateDueAlerts } from "../alerts/evaluation.job";
import { revalidatePendingChangeRequests } from "../approvals/jobs";
import type { Env } from "../env";
import { requeueStalledExports } from "../exports/exports.service";
import { runDailyLogsRetention } from "../logs/logs.retention";
import { sweepNotificationOutbox } from "../notifications/outbox";

/**
 * The every-minute Cron Trigger. Each job is a named function that tests call directly.
 * Jobs: the notification outbox sweep (#6); alert evaluation (#7) and the retention and expiry
 * sweeps (#3/#4/#5) arrive with their issues.
 */
export async function runScheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
  await sweepNotificationOutbox(env, controller.scheduledTime);
  await evaluateDueAlerts(env, controller.scheduledTime);
  await runDailyLogsRetention(env, controller.scheduledTime);
  await revalidatePendingChangeRequests(env, controller.scheduledTime);
  await runDailyActivityRetention(env, controller.scheduledTime);
  await refreshActivityIndexes(env.DB);
  await requeueStalledExports(env, controller.scheduledTime);
}
