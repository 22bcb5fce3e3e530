import { app } from "./app";
import type { Env } from "./env";
import { handleQueue } from "./queues";
import { runScheduled } from "./scheduled/scheduled";

export { ActivitySequencerObject } from "./activity";
export { LogsAlertObject } from "./alerts";
export { ChangeRequestObject } from "./approvals";

export default {
  fetch: app.fetch,
  queue: handleQueue,
  async scheduled(controller, env, ctx) {
    await runScheduled(controller, env, ctx);
  },
} satisfies ExportedHandler<Env>;
