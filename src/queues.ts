import { consumeAlertChecks } from "./alerts";
import type { Env } from "./env";
import { EXPORT_PRODUCERS } from "./export-kinds";
import { consumeExports } from "./exports";
import type { AlertCheckMessage, ExportMessage, NotificationMessage } from "./lib/messages";
import { consumeNotifications, consumeNotificationsDeadLetters } from "./notifications";

export const QUEUE_NAMES = {
  notifications: "edge-audit-notifications",
  notificationsDeadLetter: "edge-audit-notifications-dlq",
  exports: "edge-audit-exports",
  alertChecks: "edge-audit-alert-checks",
} as const;

/** Routes a batch to its consumer by queue name (names as in wrangler.toml). */
export async function handleQueue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  switch (batch.queue) {
    case QUEUE_NAMES.notifications:
      return consumeNotifications(batch as MessageBatch<NotificationMessage>, env);
    case QUEUE_NAMES.notificationsDeadLetter:
      return consumeNotificationsDeadLetters(batch as MessageBatch<NotificationMessage>, env);
    case QUEUE_NAMES.alertChecks:
      return consumeAlertChecks(batch as MessageBatch<AlertCheckMessage>, env);
    case QUEUE_NAMES.exports:
      return consumeExports(batch as MessageBatch<ExportMessage>, env, EXPORT_PRODUCERS);
    default:
      throw new Error(`no consumer for queue ${batch.queue}`);
  }
}
