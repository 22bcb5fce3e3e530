import type { Env } from "../env";
import { runDailyLogsRetention } from "../logs/logs.retention";

/**
 * The every-minute Cron Trigger. Each job is a named function that tests call directly.
 * STUB: the jobs arrive with their issues (alert evaluation #7, retention and expiry sweeps
 * #3/#4/#5); today a tick does nothing.
 */
export async function runScheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
  await runDailyLogsRetention(env, controller.scheduledTime);
}
