import type { Env } from "../env";
import { uuidv7 } from "../lib/ids";

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

/**
 * One compact event; the notifications consumer matches it against destinations.
 *
 * `data` is what receivers get as the webhook body's `data` (Slack renders it). Suggested shapes:
 * - `logs_alert_*`: `{alert: {id, name}, state, previous_state, result_count, threshold_count,
 *   threshold_operator: "above"|"below", window_minutes, evaluated_at, error_message?}`
 * - `change_request_*`: `{change_request: {id, action_key, intent_display, state, resource_type,
 *   resource_id, expires_at}, requester?: user, actor?: user, reason?}` (user = `{id, first_name, last_name, email}`)
 * Activity events leave `data` out: the consumer reads the committed row when a destination matches.
 */
export interface NotificationEvent {
  /** Deduplication key: one delivery per (event id, destination). A deterministic id (an alert
   * transition's key, a change request step) makes a republished event harmless. Defaults to a new UUID. */
  id?: string;
  type: NotificationEventType;
  organizationId: string;
  teamId: number | null;
  /** What destination filters match on: activity scope/activity/item id, or the alert id. */
  scope?: string | null;
  activity?: string | null;
  itemId?: string | null;
  alertId?: string | null;
  occurredAt: string;
  data?: Record<string, unknown>;
}

export type NotificationMessage =
  | { kind: "event"; event: NotificationEvent }
  | { kind: "delivery"; deliveryId: string; generation: number };

// Queues take at most 100 messages and 256 KB per sendBatch; stay under the byte limit with room for framing.
const MAX_MESSAGES_PER_SEND = 100;
const MAX_BYTES_PER_SEND = 200_000;

/** Sends messages in as few `sendBatch` calls as the Queues limits allow. */
export async function sendMessages(env: Env, messages: NotificationMessage[]): Promise<void> {
  let chunk: MessageSendRequest<NotificationMessage>[] = [];
  let bytes = 0;
  for (const body of messages) {
    const size = JSON.stringify(body).length + 100;
    if (chunk.length && (chunk.length === MAX_MESSAGES_PER_SEND || bytes + size > MAX_BYTES_PER_SEND)) {
      await env.NOTIFICATIONS_QUEUE.sendBatch(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push({ body, contentType: "json" });
    bytes += size;
  }
  if (chunk.length) await env.NOTIFICATIONS_QUEUE.sendBatch(chunk);
}

/** Publishes events to the notifications queue; callers run it after their write committed. */
export async function publishEvents(env: Env, events: NotificationEvent[]): Promise<void> {
  await sendMessages(
    env,
    events.map((event) => ({ kind: "event", event: { ...event, id: event.id ?? uuidv7() } })),
  );
}
