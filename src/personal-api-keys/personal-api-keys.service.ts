import type { z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { type ActivityEntry, createdChange, diffChanges } from "../audit/record";
import type { PersonalApiKey } from "../auth/context";
import { hasScope } from "../auth/scopes";
import type { Db } from "../db/client";
import { inList } from "../db/in-list";
import { organizationMemberships, personalApiKeys, projects } from "../db/schema";
import { notFound, permissionDenied, validationError } from "../lib/errors";
import type { newPersonalApiKey } from "./personal-api-keys.queries";
import type { KeyUpdateSchema } from "./personal-api-keys.routes";

export const SCOPE = "PersonalAPIKey";

/** Restrictions may only name organizations and projects the user can reach. */
export async function validateRestrictions(db: Db, userId: number, body: z.infer<typeof KeyUpdateSchema>) {
  const orgIds = body.scoped_organizations ?? [];
  const teamIds = body.scoped_teams ?? [];
  const [orgs, teams] = await Promise.all([
    orgIds.length
      ? db
          .select({ id: organizationMemberships.organizationId })
          .from(organizationMemberships)
          .where(and(eq(organizationMemberships.userId, userId), inList(organizationMemberships.organizationId, orgIds)))
      : Promise.resolve([]),
    teamIds.length
      ? db
          .select({ id: projects.id })
          .from(projects)
          .innerJoin(organizationMemberships, eq(organizationMemberships.organizationId, projects.organizationId))
          .where(and(eq(organizationMemberships.userId, userId), inList(projects.id, teamIds)))
      : Promise.resolve([]),
  ]);
  const foundOrgs = new Set(orgs.map((o) => o.id));
  const missingOrg = orgIds.findIndex((id) => !foundOrgs.has(id));
  if (missingOrg >= 0) throw validationError("You are not a member of this organization.", `scoped_organizations__${missingOrg}`);
  const foundTeams = new Set(teams.map((t) => t.id));
  const missingTeam = teamIds.findIndex((id) => !foundTeams.has(id));
  if (missingTeam >= 0) throw validationError("You do not have access to this project.", `scoped_teams__${missingTeam}`);
}

/** Key activity is recorded in every organization the user belongs to: a key reaches all of them. */
export async function keyActivities(db: Db, userId: number, entry: Omit<ActivityEntry, "organizationId">) {
  const orgs = await db
    .select({ id: organizationMemberships.organizationId })
    .from(organizationMemberships)
    .where(eq(organizationMemberships.userId, userId));
  return orgs.map((o) => ({ ...entry, organizationId: o.id }));
}

export type NewKeyRow = Awaited<ReturnType<typeof newPersonalApiKey>>["row"];

/** A new key's insert and activity rows; the approval apply of a gated `*` key reuses it. */
export async function planPersonalApiKeyCreate(db: Db, userId: number, row: NewKeyRow) {
  const stored = { ...row, userId, lastUsedAt: null, lastRolledAt: null, kind: "personal" as const, expiresAt: null };
  const entries = await keyActivities(db, userId, {
    scope: SCOPE,
    activity: "created",
    itemId: row.id,
    detail: { name: row.label, changes: createdChange(SCOPE, { ...auditedFields(stored), value: "masked" }) },
  });
  return { stored, writes: [db.insert(personalApiKeys).values(row)], entries };
}

/** The organizations a key reaches: its scoped organizations, its scoped projects' ones, or all of the user's. */
export async function reachableOrganizations(db: Db, userId: number, body: z.infer<typeof KeyUpdateSchema>) {
  if (body.scoped_organizations?.length) return body.scoped_organizations;
  const rows = body.scoped_teams?.length
    ? await db.selectDistinct({ id: projects.organizationId }).from(projects).where(inList(projects.id, body.scoped_teams))
    : await db
        .select({ id: organizationMemberships.organizationId })
        .from(organizationMemberships)
        .where(eq(organizationMemberships.userId, userId));
  return rows.map((r) => r.id);
}

export async function findKey(db: Db, userId: number, keyId: string) {
  const [key] = await db
    .select()
    .from(personalApiKeys)
    .where(and(eq(personalApiKeys.id, keyId), eq(personalApiKeys.userId, userId), eq(personalApiKeys.kind, "personal")));
  if (!key) throw notFound();
  return key;
}

/** What a key grants: its scopes and its restrictions (empty or null restrictions: everything the user reaches). */
export interface KeyGrant {
  scopes: string[];
  scopedOrganizations: string[] | null;
  scopedTeams: number[] | null;
}

const RESTRICTED_TO_PROJECTS = "the key must be restricted to some of the same projects";
const RESTRICTED_TO_ORGANIZATIONS = "the key must be restricted to some of the same organizations";

/** Why `grant` reaches beyond `holder` (a scope, an organization or a project), or null when it does not. */
async function beyondHolder(db: Db, holder: KeyGrant, grant: KeyGrant): Promise<string | null> {
  const scope = grant.scopes.find((s) => (s === "*" ? !holder.scopes.includes("*") : !hasScope(holder.scopes, s)));
  if (scope) return `it cannot grant the scope '${scope}', which it does not hold`;
  const holderTeams = holder.scopedTeams ?? [];
  const holderOrgs = holder.scopedOrganizations ?? [];
  const teams = grant.scopedTeams ?? [];
  const orgs = grant.scopedOrganizations ?? [];
  if (holderTeams.length && (!teams.length || teams.some((id) => !holderTeams.includes(id)))) return RESTRICTED_TO_PROJECTS;
  if (!holderOrgs.length) return null;
  if (orgs.length) return orgs.some((id) => !holderOrgs.includes(id)) ? RESTRICTED_TO_ORGANIZATIONS : null;
  if (!teams.length) return RESTRICTED_TO_ORGANIZATIONS;
  const teamOrgs = await db.selectDistinct({ id: projects.organizationId }).from(projects).where(inList(projects.id, teams));
  return teamOrgs.some((o) => !holderOrgs.includes(o.id)) ? RESTRICTED_TO_ORGANIZATIONS : null;
}

/**
 * A key creates or changes keys only within what it holds itself: each scope it grants it holds
 * (`*` only from `*`), and the key it leaves behind reaches no organization or project the holder
 * cannot. Otherwise an API key could mint its way out of its own limits.
 */
export async function assertWithinHolder(db: Db, holder: KeyGrant, grant: KeyGrant) {
  const reason = await beyondHolder(db, holder, grant);
  if (reason) throw permissionDenied(`This API key cannot create or widen a key beyond itself: ${reason}.`);
}

/**
 * Whether a change makes a `*` key out of a narrower one, or lets a `*` key reach further: either
 * passes the `personal_api_key.create` approval gate, as creating a `*` key does.
 */
export async function widensToAll(db: Db, before: KeyGrant, after: KeyGrant): Promise<boolean> {
  return after.scopes.includes("*") && (await beyondHolder(db, before, after)) !== null;
}

/** A PATCH's resulting key, its update statement and activity; the gated apply of a widening reuses it. */
export async function planPersonalApiKeyUpdate(db: Db, userId: number, key: PersonalApiKey, body: z.infer<typeof KeyUpdateSchema>) {
  const updated = {
    ...key,
    label: body.label ?? key.label,
    scopes: body.scopes ?? key.scopes,
    scopedOrganizations: body.scoped_organizations === undefined ? key.scopedOrganizations : body.scoped_organizations,
    scopedTeams: body.scoped_teams === undefined ? key.scopedTeams : body.scoped_teams,
  };
  const changes = diffChanges(SCOPE, auditedFields(key), auditedFields(updated));
  if (!changes.length) return { updated, writes: [], entries: [] };
  const writes = [
    db
      .update(personalApiKeys)
      .set({
        label: updated.label,
        scopes: updated.scopes,
        scopedOrganizations: updated.scopedOrganizations,
        scopedTeams: updated.scopedTeams,
      })
      .where(eq(personalApiKeys.id, key.id)),
  ];
  const entries = await keyActivities(db, userId, {
    scope: SCOPE,
    activity: "updated",
    itemId: key.id,
    detail: { name: updated.label, changes },
  });
  return { updated, writes, entries };
}

/** What a gated change to a key compares before applying: the key must not have changed meanwhile. */
export const grantPreconditions = (key: KeyGrant) => ({
  scopes: key.scopes,
  scoped_organizations: key.scopedOrganizations ?? [],
  scoped_teams: key.scopedTeams ?? [],
});

export const auditedFields = (key: KeyGrant & { label: string }) => ({
  label: key.label,
  scopes: key.scopes,
  scoped_organizations: key.scopedOrganizations ?? [],
  scoped_teams: key.scopedTeams ?? [],
});
