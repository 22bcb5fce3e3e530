import type { Env } from "../env";

export const NOTIFICATION_EVENT_TYPES = [
  "activity_log_entry_created",
  "logs_alert_firing",
  "logs_alert_resolved",
  "logs_alert_broken",
  "change_request_created",
  "change_request_approved",
  "change_request_applied",
  "change_request_rejected",
  "change_request_expired",
] as const;
export type NotificationEventType = (typeof NOTIFICATION_EVENT_TYPES)[number];

/** One compact event; the notifications consumer matches it against destinations. */
export interface NotificationEvent {
  type: NotificationEventType;
  organizationId: string;
  teamId: number | null;
  /** What destination filters match on: activity scope/activity/item id, or the alert id. */
  scope?: string | null;
  activity?: string | null;
  itemId?: string | null;
  alertId?: string | null;
  occurredAt: string;
  /** The payload delivered to receivers (`data` of the webhook body). */
  data: Record<string, unknown>;
}

/** Publishes events to the notifications queue; callers run it after their D1 batch committed. */
export async function publishEvents(env: Env, events: NotificationEvent[]): Promise<void> {
  if (!events.length) return;
  await env.NOTIFICATIONS_QUEUE.sendBatch(events.map((event) => ({ body: { kind: "event", event } })));
}
