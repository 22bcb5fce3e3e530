import type { Env } from "../env";
import type { NotificationEvent } from "./events";

export type NotificationMessage = { kind: "event"; event: NotificationEvent } | { kind: string; [key: string]: unknown };

/**
 * STUB (issue #6 fills it): will match events against destinations and deliver them. Until then it
 * acknowledges every message so the queue does not retry work nobody can do.
 */
export async function consumeNotifications(batch: MessageBatch<NotificationMessage>, _env: Env): Promise<void> {
  batch.ackAll();
}

/** STUB (issue #6): will mark deliveries that exhausted their retries as failed. */
export async function consumeNotificationsDeadLetters(batch: MessageBatch<NotificationMessage>, _env: Env): Promise<void> {
  batch.ackAll();
}
