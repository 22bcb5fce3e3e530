import { app } from "./app";
import type { Env } from "./env";
import { type LogContext, log, withLogContext } from "./lib/log";
import { handleQueue } from "./queues";
import { runScheduled } from "./scheduled/scheduled";

export { ActivitySequencerObject } from "./activity";
export { LogsAlertObject } from "./alerts";
export { ChangeRequestObject } from "./approvals";

/** One JSON line per queue batch or cron tick (outcome and duration); lines written inside name it. */
async function logged(context: LogContext, work: () => Promise<void>): Promise<void> {
  const started = Date.now();
  await withLogContext(context, async () => {
    try {
      await work();
      log("info", "done", { ms: Date.now() - started });
    } catch (error) {
      log("error", "failed", { ms: Date.now() - started, error });
      throw error;
    }
  });
}

export default {
  fetch: app.fetch,
  queue: (batch, env) => logged({ queue: batch.queue, messages: batch.messages.length }, () => handleQueue(batch, env)),
  scheduled: (controller, env, ctx) =>
    logged({ cron: controller.cron, scheduled_time: new Date(controller.scheduledTime).toISOString() }, () =>
      runScheduled(controller, env, ctx),
    ),
} satisfies ExportedHandler<Env>;
