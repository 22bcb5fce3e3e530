import { and, eq } from "drizzle-orm";
import { type ActivityEntry, diffChanges } from "../audit/record";
import type { Db } from "../db/client";
import { organizationMemberships, users } from "../db/schema";
import { notFound, permissionDenied, validationError } from "../lib/errors";
import { isoRequired } from "../lib/time";
import { serializeUserBasic } from "../users";

export const SCOPE = "OrganizationMembership";

export type MemberRow = { membership: typeof organizationMemberships.$inferSelect; user: typeof users.$inferSelect };

export function serializeMember({ membership, user }: MemberRow) {
  return {
    id: membership.id,
    user: serializeUserBasic(user),
    level: membership.level,
    joined_at: isoRequired(membership.joinedAt),
    updated_at: isoRequired(membership.updatedAt),
    is_2fa_enabled: false,
    has_social_auth: false,
  };
}

export async function findMember(db: Db, organizationId: string, userUuid: string): Promise<MemberRow> {
  const [row] = await db
    .select({ membership: organizationMemberships, user: users })
    .from(organizationMemberships)
    .innerJoin(users, eq(users.id, organizationMemberships.userId))
    .where(and(eq(organizationMemberships.organizationId, organizationId), eq(users.uuid, userUuid)));
  if (!row) throw notFound();
  return row;
}

/** Who may set whom to which level; throws the handler's errors. The approval apply re-checks with it. */
export function assertLevelChangeAllowed(actorId: number, actorLevel: number, target: MemberRow, newLevel: number) {
  if (target.user.id === actorId) throw permissionDenied("You can't change your own access level.");
  if (newLevel > actorLevel)
    throw validationError("You can only change access level of others to lower or equal to your current one.", "level");
  if (target.membership.level > actorLevel) throw permissionDenied("You can only edit others with level lower or equal to you.");
}

/** A level change's writes and activity (null when the level stays); shared with the approval apply. */
export function planMemberLevelUpdate(db: Db, organizationId: string, target: MemberRow, newLevel: number) {
  const changes = diffChanges(SCOPE, { level: target.membership.level }, { level: newLevel });
  if (!changes.length) return null;
  const entries: ActivityEntry[] = [
    { organizationId, scope: SCOPE, activity: "updated", itemId: target.user.uuid, detail: { name: target.user.email, changes } },
  ];
  const write = db
    .update(organizationMemberships)
    .set({ level: newLevel, updatedAt: new Date() })
    .where(eq(organizationMemberships.id, target.membership.id));
  return { writes: [write], entries };
}
