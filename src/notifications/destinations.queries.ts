import { and, eq, isNull, type SQL } from "drizzle-orm";
import { type ActivityEntry, commitWithActivity, type WriteContext } from "../audit/record";
import type { User } from "../auth/context";
import type { Db } from "../db/client";
import { inList } from "../db/in-list";
import { notificationDestinations, notificationSubscriptions, users } from "../db/schema";
import type { Env } from "../env";
import { notFound } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { sealSecret } from "../lib/secret-box";
import { iso, isoRequired } from "../lib/time";
import { serializeUserBasic } from "../users";
import type { Destination } from "./matching";
import { newWebhookSecret } from "./signing";

export const DESTINATION_SCOPE = "NotificationDestination";
export const MASKED = "masked";

/** A project's destinations (`teamId` set) or an organization's own (`teamId` null). */
export interface DestinationOwner {
  organizationId: string;
  teamId: number | null;
}

/**
 * Whose destinations a read names: a `DestinationOwner`, or, on a one-trip read before the project
 * is known, a project's id with its organization as a subquery (`projectDestinations`).
 */
export interface DestinationScope {
  organizationId: string | SQL;
  teamId: number | null;
}

export const ownedBy = (owner: DestinationScope) =>
  and(
    eq(notificationDestinations.organizationId, owner.organizationId),
    owner.teamId === null ? isNull(notificationDestinations.teamId) : eq(notificationDestinations.teamId, owner.teamId),
  );

type NewDestinationFields = Pick<
  Destination,
  "organizationId" | "teamId" | "name" | "type" | "url" | "enabled" | "events" | "filters" | "includeOrganizationActivity" | "createdById"
>;

/** A new destination row; a webhook gets a signing secret, stored sealed and returned in plain text to be shown once. */
export async function newDestination(
  env: Pick<Env, "SECRETS_ENCRYPTION_KEY">,
  fields: NewDestinationFields,
  now: Date,
): Promise<{ destination: Destination; secret: string | null }> {
  const secret = fields.type === "webhook" ? newWebhookSecret() : null;
  const destination: Destination = {
    id: uuidv7(),
    ...fields,
    secret: secret && (await sealSecret(env, secret)),
    previousSecret: null,
    previousSecretExpiresAt: null,
    disabledReason: null,
    failingSince: null,
    lastSuccessAt: null,
    createdAt: now,
    updatedAt: now,
  };
  return { destination, secret };
}

export async function findDestination(db: Db, owner: DestinationScope, id: string): Promise<Destination> {
  const [destination] = await db
    .select()
    .from(notificationDestinations)
    .where(and(eq(notificationDestinations.id, id), ownedBy(owner)));
  if (!destination) throw notFound();
  return destination;
}

/** The API shape. `secret` is given only right after it was generated (create, rotate). */
export function serializeDestination(destination: Destination, creator: User | null | undefined, secret: string | null = null) {
  return {
    id: destination.id,
    name: destination.name,
    type: destination.type,
    url: destination.url,
    enabled: destination.enabled,
    events: destination.events,
    filters: destination.filters,
    include_organization_activity: destination.includeOrganizationActivity,
    organization: destination.organizationId,
    project: destination.teamId,
    secret,
    previous_secret_expires_at: iso(destination.previousSecretExpiresAt),
    disabled_reason: destination.disabledReason,
    failing_since: iso(destination.failingSince),
    last_success_at: iso(destination.lastSuccessAt),
    created_by: creator ? serializeUserBasic(creator) : null,
    created_at: isoRequired(destination.createdAt),
    updated_at: isoRequired(destination.updatedAt),
  };
}

export async function serializeDestinations(db: Db, destinations: Destination[]) {
  const creatorIds = [...new Set(destinations.map((d) => d.createdById).filter((id): id is number => id !== null))];
  const creators = creatorIds.length ? await db.select().from(users).where(inList(users.id, creatorIds)) : [];
  return serializeDestinationsWith(destinations, creators);
}

/** `serializeDestinations` with the creators already read (in the page's batch). */
export function serializeDestinationsWith(destinations: Destination[], creators: User[]) {
  const byId = new Map(creators.map((u) => [u.id, u]));
  return destinations.map((d) => serializeDestination(d, d.createdById === null ? null : byId.get(d.createdById)));
}

/** The fields an activity diff shows; a Slack URL carries its channel token, so it is masked. */
export function auditedFields(destination: Destination): Record<string, unknown> {
  return {
    name: destination.name,
    type: destination.type,
    url: destination.type === "slack" ? MASKED : destination.url,
    enabled: destination.enabled,
    events: destination.events,
    filters: destination.filters,
    include_organization_activity: destination.includeOrganizationActivity,
  };
}

export function destinationActivity(destination: Destination, activity: string, detail: ActivityEntry["detail"]): ActivityEntry {
  return {
    organizationId: destination.organizationId,
    teamId: destination.teamId,
    scope: DESTINATION_SCOPE,
    activity,
    itemId: destination.id,
    detail: { name: destination.name, ...detail },
  };
}

/**
 * Turns a destination off because of what its receiver did (410, 5 days of failures, a URL
 * refused at send time): the flag, its index rows and an is_system activity row in one batch.
 */
export async function disableDestination(ctx: WriteContext, destination: Destination, reason: string): Promise<void> {
  const now = new Date();
  await commitWithActivity(
    ctx,
    [
      ctx.db
        .update(notificationDestinations)
        .set({ enabled: false, disabledReason: reason, updatedAt: now })
        .where(eq(notificationDestinations.id, destination.id)),
      ctx.db.delete(notificationSubscriptions).where(eq(notificationSubscriptions.destinationId, destination.id)),
    ],
    [
      destinationActivity(destination, "updated", {
        changes: [{ type: DESTINATION_SCOPE, action: "changed", field: "enabled", before: true, after: false }],
        context: { reason },
      }),
    ],
  );
}
