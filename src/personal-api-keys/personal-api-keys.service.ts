import type { z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { type ActivityEntry, createdChange } from "../audit/record";
import type { Db } from "../db/client";
import { inList } from "../db/in-list";
import { organizationMemberships, personalApiKeys, projects } from "../db/schema";
import { notFound, validationError } from "../lib/errors";
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

export const auditedFields = (key: {
  label: string;
  scopes: string[];
  scopedOrganizations: string[] | null;
  scopedTeams: number[] | null;
}) => ({
  label: key.label,
  scopes: key.scopes,
  scoped_organizations: key.scopedOrganizations ?? [],
  scoped_teams: key.scopedTeams ?? [],
});
