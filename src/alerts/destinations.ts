import type { z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { type ActivityEntry, createdChange, deletedChange } from "../audit/record";
import type { Db } from "../db/client";
import { inList } from "../db/in-list";
import { logsAlertDestinations, type logsAlerts, notificationDestinations } from "../db/schema";
import type { Env } from "../env";
import { validationError } from "../lib/errors";
import type { NotificationEventType } from "../lib/messages";
import {
  allowLoopback,
  auditedFields,
  DESTINATION_SCOPE,
  type Destination,
  destinationActivity,
  destinationUrlRefusal,
  newDestination,
  subscriptionInserts,
} from "../notifications";
import type { DestinationLinkSchema } from "./alerts.schemas";

/** What an alert destination receives (PostHog's firing / resolved / auto-disabled templates). */
export const ALERT_EVENTS: NotificationEventType[] = ["logs_alert_firing", "logs_alert_resolved", "logs_alert_broken"];

type LinkInput = z.infer<typeof DestinationLinkSchema>;

/**
 * A notification destination subscribed to this alert's transitions only (`filters.alert_ids`),
 * built and checked as the notifications module builds its own, plus the link row.
 */
export async function planLink(
  db: Db,
  env: Env,
  alert: Pick<typeof logsAlerts.$inferSelect, "id" | "teamId" | "organizationId" | "name">,
  userId: number,
  input: LinkInput,
) {
  if (input.type === "teams")
    throw validationError("Microsoft Teams is not supported: use a webhook (or a Slack incoming webhook).", "type");
  if (!input.webhook_url) {
    throw validationError(
      input.type === "slack"
        ? "Give the Slack incoming webhook URL (Slack app integrations are not supported)."
        : "This field is required.",
      "webhook_url",
      "required",
    );
  }
  const refusal = destinationUrlRefusal(input.type, input.webhook_url, allowLoopback(env));
  if (refusal) throw validationError(refusal, "webhook_url");
  const now = new Date();
  const label = input.name ?? (input.slack_channel_name ? `#${input.slack_channel_name.replace(/^#/, "")}` : input.type);
  const { destination, secret } = await newDestination(
    env,
    {
      organizationId: alert.organizationId,
      teamId: alert.teamId,
      name: `${alert.name}: ${label}`.slice(0, 200),
      type: input.type,
      url: input.webhook_url,
      enabled: true,
      events: ALERT_EVENTS,
      filters: { alert_ids: [alert.id] },
      includeOrganizationActivity: false,
      createdById: userId,
    },
    now,
  );
  const writes: BatchItem<"sqlite">[] = [
    db.insert(notificationDestinations).values(destination),
    ...subscriptionInserts(db, destination),
    db.insert(logsAlertDestinations).values({ alertId: alert.id, destinationId: destination.id, createdAt: now }),
  ];
  const entries: ActivityEntry[] = [
    destinationActivity(destination, "created", {
      changes: createdChange(DESTINATION_SCOPE, auditedFields(destination)),
      context: { logs_alert_id: alert.id },
    }),
  ];
  return { destination, secret, writes, entries };
}

/** The destinations created for an alert, optionally only those with the given ids. */
export function linkedDestinations(db: Db, alertId: string, ids?: string[]): Promise<Destination[]> {
  return db
    .select({ destination: notificationDestinations })
    .from(logsAlertDestinations)
    .innerJoin(notificationDestinations, eq(notificationDestinations.id, logsAlertDestinations.destinationId))
    .where(and(eq(logsAlertDestinations.alertId, alertId), ids ? inList(logsAlertDestinations.destinationId, ids) : undefined))
    .then((rows) => rows.map((r) => r.destination));
}

/** Deleting destinations (their subscriptions and link rows cascade), each with its activity row. */
export function planUnlink(db: Db, destinations: Destination[]) {
  const writes: BatchItem<"sqlite">[] = destinations.length
    ? [
        db.delete(notificationDestinations).where(
          inList(
            notificationDestinations.id,
            destinations.map((d) => d.id),
          ),
        ),
      ]
    : [];
  const entries = destinations.map((d) =>
    destinationActivity(d, "deleted", { changes: deletedChange(DESTINATION_SCOPE, auditedFields(d)) }),
  );
  return { writes, entries };
}
