import type { SQL } from "drizzle-orm";
import type { SQLiteInsertValue } from "drizzle-orm/sqlite-core";
import type { PersonalApiKey } from "../auth/context";
import type { personalApiKeys } from "../db/schema";
import { randomToken, sha256Hex, uuidv7 } from "../lib/ids";
import { iso, isoRequired } from "../lib/time";

export const maskKeyValue = (value: string) => `${value.slice(0, 4)}...${value.slice(-4)}`;

/** A new key: the row to store (hash and mask only) and the value to show once. */
export async function newPersonalApiKey(input: {
  userId: number | SQL;
  label: string;
  scopes: string[];
  scopedOrganizations?: string[] | null;
  scopedTeams?: number[] | null;
}) {
  const value = `phx_${randomToken(47)}`;
  const row = {
    id: uuidv7(),
    userId: input.userId,
    label: input.label,
    secureValue: await sha256Hex(value),
    maskValue: maskKeyValue(value),
    scopes: input.scopes,
    scopedOrganizations: input.scopedOrganizations ?? null,
    scopedTeams: input.scopedTeams ?? null,
    createdAt: new Date(),
  } satisfies SQLiteInsertValue<typeof personalApiKeys>;
  return { row, value };
}

export function serializePersonalApiKey(key: PersonalApiKey) {
  return {
    id: key.id,
    label: key.label,
    mask_value: key.maskValue,
    scopes: key.scopes,
    scoped_organizations: key.scopedOrganizations ?? [],
    scoped_teams: key.scopedTeams ?? [],
    created_at: isoRequired(key.createdAt),
    last_used_at: iso(key.lastUsedAt),
    last_rolled_at: iso(key.lastRolledAt),
  };
}
