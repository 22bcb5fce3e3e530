import { type AlertCheckMessage, consumeAlertChecks } from "./alerts/evaluation.job";
import type { Env } from "./env";
import { consumeExports, type ExportJob } from "./exports/exports.consumer";
import { consumeNotifications, consumeNotificationsDeadLetters, type NotificationMessage } from "./notifications/notifications.consumer";

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
      return consumeExports(batch as MessageBatch<ExportJob>, env);
    default:
      throw new Error(`no consumer for queue ${batch.queue}`);
  }
}
