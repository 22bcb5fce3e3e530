import { z } from "@hono/zod-openapi";
import { ignoringReadOnly } from "../lib/validation";
import { LogsFiltersSchema } from "../logs";
import { UserBasicSchema } from "../users";
import { ALERT_STATES } from "./alert.machine";

/** PostHog's allowed window lengths. */
export const WINDOW_MINUTES = [1, 5, 10, 15, 30, 60] as const;
export const MAX_ALERTS_PER_PROJECT = 20;
export const MAX_EVALUATION_PERIODS = 10;
const MAX_INT = 2_147_483_647;

const logsFilter = LogsFiltersSchema.shape;

export const AlertFiltersSchema = z
  .object({
    severityLevels: logsFilter.severityLevels.unwrap().optional(),
    serviceNames: logsFilter.serviceNames.unwrap().optional(),
    filterGroup: logsFilter.filterGroup,
  })
  .strict()
  .openapi("LogsAlertFilters", {
    description: "Which logs are counted: severity levels, service names and/or a filter group, as in the logs query API.",
  });

const Iso = z.iso.datetime({ offset: true, message: "Enter a valid ISO 8601 date-time." });

const writable = {
  name: z.string().trim().min(1).max(255),
  enabled: z.boolean(),
  filters: AlertFiltersSchema,
  threshold_count: z.number().int().min(0).max(MAX_INT),
  threshold_operator: z.enum(["above", "below"]),
  window_minutes: z
    .number()
    .int()
    .refine((v) => (WINDOW_MINUTES as readonly number[]).includes(v), { message: `Must be one of ${WINDOW_MINUTES.join(", ")}.` })
    .openapi({ enum: [...WINDOW_MINUTES] }),
  evaluation_periods: z.number().int().min(1).max(MAX_EVALUATION_PERIODS),
  datapoints_to_alarm: z.number().int().min(1).max(MAX_EVALUATION_PERIODS),
  cooldown_minutes: z.number().int().min(0).max(MAX_INT),
  snooze_until: Iso.nullable().openapi({ description: "Silences the alert until then (must be in the future); null unsnoozes." }),
};

/** Fields the server manages: accepted in a request body (a client may send back what it read) and ignored, as DRF does. */
export const READ_ONLY_FIELDS = [
  "id",
  "check_interval_minutes",
  "state",
  "next_check_at",
  "last_notified_at",
  "last_checked_at",
  "consecutive_failures",
  "last_error_message",
  "first_enabled_at",
  "destination_types",
  "created_at",
  "created_by",
  "updated_at",
] as const;

export const AlertCreateSchema = ignoringReadOnly(READ_ONLY_FIELDS, z.object(writable).partial().strict()).openapi("LogsAlertCreate", {
  example: { name: "Checkout errors", filters: { severityLevels: ["error"], serviceNames: ["checkout"] }, threshold_count: 5 },
});
export type AlertCreate = z.infer<typeof AlertCreateSchema>;

export const AlertUpdateSchema = ignoringReadOnly(READ_ONLY_FIELDS, z.object(writable).partial().strict()).openapi("LogsAlertUpdate");
export type AlertUpdate = z.infer<typeof AlertUpdateSchema>;

const StateSchema = z.enum(ALERT_STATES);

export const AlertSchema = z
  .object({
    id: z.string().uuid(),
    name: z.string(),
    enabled: z.boolean(),
    filters: AlertFiltersSchema,
    threshold_count: z.number().int(),
    threshold_operator: z.enum(["above", "below"]),
    window_minutes: z.number().int(),
    check_interval_minutes: z.number().int(),
    state: StateSchema,
    evaluation_periods: z.number().int(),
    datapoints_to_alarm: z.number().int(),
    cooldown_minutes: z.number().int(),
    snooze_until: z.string().nullable(),
    next_check_at: z.string().nullable(),
    last_notified_at: z.string().nullable(),
    last_checked_at: z.string().nullable(),
    consecutive_failures: z.number().int(),
    last_error_message: z.string().nullable(),
    first_enabled_at: z.string().nullable().openapi({ description: "When the alert was first enabled; null for a draft." }),
    destination_types: z.array(z.enum(["slack", "webhook"])).openapi({ description: "Types of the destinations linked to this alert." }),
    created_at: z.string(),
    created_by: UserBasicSchema.nullable(),
    updated_at: z.string(),
  })
  .openapi("LogsAlert");

export const AlertEventSchema = z
  .object({
    id: z.string().uuid(),
    kind: z.enum(["check", "reset", "enable", "disable", "snooze", "unsnooze", "threshold_change"]),
    result_count: z.number().int().nullable(),
    threshold_breached: z.boolean().nullable(),
    state_before: StateSchema,
    state_after: StateSchema,
    error_message: z.string().nullable(),
    query_duration_ms: z.number().int().nullable(),
    notification: z
      .enum(["firing", "resolved", "errored", "broken"])
      .nullable()
      .openapi({ description: "The notification this check sent (null when none, or when the cooldown dropped it)." }),
    window_start: z.string().nullable(),
    window_end: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi("LogsAlertEvent");

const rules = {
  filters: AlertFiltersSchema,
  threshold_count: writable.threshold_count.default(100),
  threshold_operator: writable.threshold_operator.default("above"),
  window_minutes: writable.window_minutes.default(5),
  evaluation_periods: writable.evaluation_periods.default(1),
  datapoints_to_alarm: writable.datapoints_to_alarm.default(1),
  cooldown_minutes: writable.cooldown_minutes.default(0),
};

export const SimulateSchema = ignoringReadOnly(
  READ_ONLY_FIELDS,
  z
    .object({
      ...rules,
      name: z.string().optional(),
      enabled: z.boolean().optional(),
      snooze_until: z.string().nullish(),
      date_from: z.string().default("-24h").openapi({ description: "Relative (-24h, -7d) or ISO 8601; at most 30 days back." }),
      date_to: z.string().nullish().openapi({ description: "Defaults to now." }),
    })
    .strict(),
).openapi("LogsAlertSimulate");

export const SimulationSchema = z
  .object({
    buckets: z.array(
      z.object({
        timestamp: z.string().openapi({ description: "End of the evaluated window (the check time)." }),
        count: z.number().int(),
        threshold_breached: z.boolean(),
        state: StateSchema,
        notification: z.enum(["firing", "resolved"]).nullable(),
        reason: z.string(),
      }),
    ),
    fire_count: z.number().int(),
    resolve_count: z.number().int(),
    total_buckets: z.number().int(),
  })
  .openapi("LogsAlertSimulation");

export const DestinationLinkSchema = z
  .object({
    type: z.enum(["slack", "webhook", "teams"]),
    webhook_url: z.string().max(2048).optional().openapi({ description: "Slack incoming webhook URL, or the https URL of a webhook." }),
    name: z.string().trim().min(1).max(255).optional(),
    slack_workspace_id: z.string().optional(),
    slack_channel_id: z.string().optional(),
    slack_channel_name: z.string().max(255).optional(),
  })
  .strict()
  .openapi("LogsAlertDestinationLink");

export const DestinationLinkResultSchema = z
  .object({
    hog_function_ids: z.array(z.string()).openapi({ description: "Ids of the notification destinations created (one per call)." }),
    secret: z.string().nullable().openapi({ description: "The webhook's `whsec_` signing secret, shown only here." }),
  })
  .openapi("LogsAlertDestinationLinkResult");

export const DestinationUnlinkSchema = z.object({ hog_function_ids: z.array(z.string()).min(1).max(100) }).strict();

export type AlertFilters = z.infer<typeof AlertFiltersSchema>;
