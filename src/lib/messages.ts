// The bodies of every queue message, in one module that imports nothing: `env.ts` types its queue
// bindings with them, producers and consumers in different layers share them.

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
  "activity_log_checkpoint_signed",
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
 * - `activity_log_checkpoint_signed`: `{message, checkpoint}`, the signed checkpoint as
 *   `GET .../activity_log/checkpoints/` lists it (organization destinations only: `teamId` null).
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
  /** `outboxId`: the outbox row holding the event until its fan-out is recorded (absent: nothing to clear). */
  { kind: "event"; event: NotificationEvent; outboxId?: string } | { kind: "delivery"; deliveryId: string; generation: number };

/** A chunk of due alerts for the alert-checks consumer (one per CHUNK_SIZE alerts, per cron tick). */
export interface AlertCheckMessage {
  id: string;
  windowEnd: number;
  alertIds: string[];
  enqueuedAt: number;
}

/** Asks the exports consumer to run the export job (a row of `export_jobs`) with this id. */
export type ExportMessage = { exportId: string };
