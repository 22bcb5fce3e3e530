import { and, eq, gt } from "drizzle-orm";
import type { ActivityEntry } from "../audit/record";
import { createdChange, deletedChange } from "../audit/record";
import type { AuthContext } from "../auth/context";
import { hasScope } from "../auth/scopes";
import type { Db } from "../db/client";
import { personalApiKeys, users } from "../db/schema";
import { notFound, permissionDenied } from "../lib/errors";
import { randomToken, sha256Hex, uuidv7 } from "../lib/ids";
import { isoRequired } from "../lib/time";
import { maskKeyValue } from "../personal-api-keys";
import { serializeUserBasic } from "../users";
import { READ_SCOPES } from "./viewer-tokens.routes";

export const SCOPE = "ViewerToken";
const DEFAULT_MINUTES = 60;

type TokenRow = Pick<typeof personalApiKeys.$inferSelect, "id" | "label" | "scopes" | "scopedTeams" | "expiresAt" | "createdAt">;
type Creator = typeof users.$inferSelect;

/**
 * A viewer link is a personal API key of the admin who mints it, of kind "viewer": read scopes
 * only, no wider than the minting key (its scopes and project restriction), bound to one
 * organization, and expiring within 24 hours. Authentication refuses it once expired.
 */
export async function planViewerToken(
  caller: AuthContext,
  organizationId: string,
  input: { label?: string; scopes?: string[]; expires_in_minutes?: number },
) {
  const scopes = input.scopes ?? READ_SCOPES.filter((scope) => hasScope(caller.key.scopes, scope));
  const missing = scopes.filter((scope) => !hasScope(caller.key.scopes, scope));
  if (missing.length || !scopes.length) {
    throw permissionDenied(`A viewer link cannot hold scopes its creator's key lacks: ${missing.join(", ") || "none left"}.`);
  }
  const token = `phv_${randomToken(47)}`;
  const now = new Date();
  const row = {
    id: uuidv7(),
    userId: caller.user.id,
    label: input.label ?? "Viewer link",
    secureValue: await sha256Hex(token),
    maskValue: maskKeyValue(token),
    scopes,
    scopedOrganizations: [organizationId],
    scopedTeams: caller.key.scopedTeams ?? null,
    kind: "viewer" as const,
    createdAt: now,
    expiresAt: new Date(now.getTime() + (input.expires_in_minutes ?? DEFAULT_MINUTES) * 60_000),
  };
  const entry: ActivityEntry = {
    organizationId,
    scope: SCOPE,
    activity: "created",
    itemId: row.id,
    detail: {
      name: row.label,
      changes: createdChange(SCOPE, { scopes, scoped_teams: row.scopedTeams, expires_at: row.expiresAt.toISOString() }),
    },
  };
  return { row, token, entry };
}

export function serializeViewerToken(row: TokenRow, creator: Creator) {
  return {
    id: row.id,
    label: row.label,
    scopes: row.scopes,
    scoped_teams: row.scopedTeams ?? [],
    expires_at: isoRequired(row.expiresAt ?? row.createdAt),
    created_by: serializeUserBasic(creator),
    created_at: isoRequired(row.createdAt),
  };
}

const ofOrganization = (organizationId: string) =>
  and(
    eq(personalApiKeys.kind, "viewer"),
    eq(personalApiKeys.scopedOrganizations, [organizationId]),
    gt(personalApiKeys.expiresAt, new Date()),
  );

export async function listViewerTokens(db: Db, organizationId: string) {
  return db
    .select({ token: personalApiKeys, creator: users })
    .from(personalApiKeys)
    .innerJoin(users, eq(users.id, personalApiKeys.userId))
    .where(ofOrganization(organizationId))
    .orderBy(personalApiKeys.createdAt);
}

export async function planViewerTokenRevoke(db: Db, organizationId: string, tokenId: string) {
  const [row] = await db
    .select()
    .from(personalApiKeys)
    .where(
      and(eq(personalApiKeys.id, tokenId), eq(personalApiKeys.kind, "viewer"), eq(personalApiKeys.scopedOrganizations, [organizationId])),
    );
  if (!row) throw notFound();
  const entry: ActivityEntry = {
    organizationId,
    scope: SCOPE,
    activity: "revoked",
    itemId: row.id,
    detail: { name: row.label, changes: deletedChange(SCOPE, { scopes: row.scopes }) },
  };
  return { write: db.delete(personalApiKeys).where(eq(personalApiKeys.id, row.id)), entry };
}
