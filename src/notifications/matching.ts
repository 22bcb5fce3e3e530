import { and, eq, inArray, or } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client";
import { inList } from "../db/in-list";
import { type DestinationFilters, notificationDestinations, notificationSubscriptions, projects } from "../db/schema";
import type { NotificationEvent } from "../lib/messages";

export type Destination = typeof notificationDestinations.$inferSelect;
type SubscriptionRow = typeof notificationSubscriptions.$inferInsert;
type MatchableDestination = Pick<
  Destination,
  "id" | "organizationId" | "teamId" | "enabled" | "events" | "filters" | "includeOrganizationActivity"
>;
type MatchableEvent = Pick<NotificationEvent, "type" | "organizationId" | "teamId" | "scope" | "activity" | "itemId" | "alertId">;

const ACTIVITY = "activity_log_entry_created";
const isAlertEvent = (type: string) => type.startsWith("logs_alert_");
/** The key of organization-level events (project ids start at 1). */
const ORGANIZATION_TEAM_KEY = 0;

/** Index keys of a destination for one event type: its most selective filter, or `*`. */
function destinationMatchKeys(eventType: string, filters: DestinationFilters): string[] {
  if (eventType === ACTIVITY) {
    if (filters.item_ids?.length) return filters.item_ids.map((id) => `item:${id}`);
    if (filters.scopes?.length) return filters.scopes.map((scope) => `scope:${scope}`);
    if (filters.activities?.length) return filters.activities.map((activity) => `activity:${activity}`);
  } else if (isAlertEvent(eventType) && filters.alert_ids?.length) {
    return filters.alert_ids.map((id) => `alert:${id}`);
  }
  return ["*"];
}

/** The index rows of a destination; none while it is disabled. */
export function subscriptionRows(destination: MatchableDestination): SubscriptionRow[] {
  if (!destination.enabled) return [];
  const rows: SubscriptionRow[] = [];
  for (const eventType of destination.events) {
    const teamKeys =
      destination.teamId === null
        ? [ORGANIZATION_TEAM_KEY]
        : eventType === ACTIVITY && destination.includeOrganizationActivity
          ? [destination.teamId, ORGANIZATION_TEAM_KEY]
          : [destination.teamId];
    for (const teamKey of teamKeys) {
      for (const matchKey of destinationMatchKeys(eventType, destination.filters)) {
        rows.push({ organizationId: destination.organizationId, eventType, teamKey, matchKey, destinationId: destination.id });
      }
    }
  }
  return rows;
}

// 100 bound parameters per statement is D1's limit; 5 columns per row fits 20 rows.
const ROWS_PER_INSERT = 20;

/** Inserts of a destination's index rows. */
export function subscriptionInserts(db: Db, destination: MatchableDestination): BatchItem<"sqlite">[] {
  const rows = subscriptionRows(destination);
  const statements: BatchItem<"sqlite">[] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    statements.push(
      db
        .insert(notificationSubscriptions)
        .values(rows.slice(i, i + ROWS_PER_INSERT))
        .onConflictDoNothing(),
    );
  }
  return statements;
}

/** Statements replacing a destination's index rows (run in the same batch as the destination write). */
export function reindexStatements(db: Db, destination: MatchableDestination): BatchItem<"sqlite">[] {
  return [
    db.delete(notificationSubscriptions).where(eq(notificationSubscriptions.destinationId, destination.id)),
    ...subscriptionInserts(db, destination),
  ];
}

function eventMatchKeys(event: MatchableEvent): string[] {
  const keys = ["*"];
  if (event.type === ACTIVITY) {
    if (event.itemId) keys.push(`item:${event.itemId}`);
    if (event.scope) keys.push(`scope:${event.scope}`);
    if (event.activity) keys.push(`activity:${event.activity}`);
  } else if (isAlertEvent(event.type) && event.alertId) {
    keys.push(`alert:${event.alertId}`);
  }
  return keys;
}

/** Every filter of the destination that applies to the event's type holds. */
export function matchesFilters(filters: DestinationFilters, event: MatchableEvent): boolean {
  const holds = (allowed: string[] | undefined, value: string | null | undefined) =>
    !allowed?.length || (!!value && allowed.includes(value));
  if (event.type === ACTIVITY) {
    return holds(filters.scopes, event.scope) && holds(filters.activities, event.activity) && holds(filters.item_ids, event.itemId);
  }
  if (isAlertEvent(event.type)) return holds(filters.alert_ids, event.alertId);
  return true;
}

/**
 * The subscription keys an event reaches: its project's, or for organization-level activity the
 * organization's and those of the projects that include organization-level activity
 * (`receive_org_level_activity_logs`, read here so that switching it needs no re-indexing).
 */
function teamKeyCondition(db: Db, event: MatchableEvent) {
  if (event.teamId !== null || event.type !== ACTIVITY) {
    return eq(notificationSubscriptions.teamKey, event.teamId ?? ORGANIZATION_TEAM_KEY);
  }
  const including = db
    .select({ id: projects.id })
    .from(projects)
    .where(and(eq(projects.organizationId, event.organizationId), eq(projects.receiveOrgLevelActivityLogs, true)));
  return or(eq(notificationSubscriptions.teamKey, ORGANIZATION_TEAM_KEY), inArray(notificationSubscriptions.teamKey, including));
}

/** The candidate destinations of an event: lookups on the subscriptions primary key. */
export function candidatesQuery(db: Db, event: MatchableEvent) {
  return db
    .select({ destination: notificationDestinations })
    .from(notificationSubscriptions)
    .innerJoin(notificationDestinations, eq(notificationDestinations.id, notificationSubscriptions.destinationId))
    .where(
      and(
        eq(notificationSubscriptions.organizationId, event.organizationId),
        eq(notificationSubscriptions.eventType, event.type),
        teamKeyCondition(db, event),
        inList(notificationSubscriptions.matchKey, eventMatchKeys(event)),
      ),
    );
}

/** The destinations an event goes to, each once. */
export function matchingDestinations(candidates: { destination: Destination }[], event: MatchableEvent): Destination[] {
  const seen = new Map<string, Destination>();
  for (const { destination } of candidates) {
    if (destination.enabled && !seen.has(destination.id) && matchesFilters(destination.filters, event))
      seen.set(destination.id, destination);
  }
  return [...seen.values()];
}
