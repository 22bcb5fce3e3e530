import { and, count, desc, eq, inArray, isNull, or, type SQL, sql } from "drizzle-orm";
import type { Project, User } from "../auth/context";
import { type Caller, callerUserId } from "../auth/one-trip";
import type { Db } from "../db/client";
import { inList } from "../db/in-list";
import { changeRequests, changeRequestVotes, roleMemberships, roles, users } from "../db/schema";
import { notFound } from "../lib/errors";
import { iso, isoRequired } from "../lib/time";
import { serializeUserBasic } from "../users";
import {
  type ChangeRequestRecord,
  type ChangeRequestSnapshot,
  canApprove,
  canCancel,
  recordFromRow,
  type VoteRecord,
  type Voter,
  voteFromRow,
} from "./model";

/** Change requests a project shows: its own and its organization's organization-level ones. */
export const visibleInProject = (project: Project): SQL =>
  and(
    eq(changeRequests.organizationId, project.organizationId),
    or(eq(changeRequests.teamId, project.id), isNull(changeRequests.teamId)),
  ) as SQL;

/** `visibleInProject` for a project known by its id only (its organization read inside the statement). */
export const visibleInProjectId = (projectId: number): SQL =>
  and(
    sql`${changeRequests.organizationId} = (SELECT organization_id FROM projects WHERE id = ${projectId})`,
    or(eq(changeRequests.teamId, projectId), isNull(changeRequests.teamId)),
  ) as SQL;

/**
 * A page of the change requests `where` selects in a project (newest first), their total, votes and
 * users, and the caller's roles in the project's organization, as one D1 batch: the dependent reads
 * take the page's ids through subqueries, the caller is found by `caller` (the key, on a one-trip read).
 */
export async function changeRequestsPage(db: Db, projectId: number, where: SQL, page: { limit: number; offset: number }, caller: Caller) {
  const ordered = <T extends SQL>(value: T) =>
    db
      .select({ value: sql`${value}` })
      .from(changeRequests)
      .where(where)
      .orderBy(desc(changeRequests.createdAt), desc(changeRequests.id))
      .limit(page.limit)
      .offset(page.offset);
  const pageIds = ordered(sql`${changeRequests.id}`);
  const [rows, [total], votes, people, roleRows] = await db.batch([
    db
      .select()
      .from(changeRequests)
      .where(where)
      .orderBy(desc(changeRequests.createdAt), desc(changeRequests.id))
      .limit(page.limit)
      .offset(page.offset),
    db.select({ n: count() }).from(changeRequests).where(where),
    db
      .select()
      .from(changeRequestVotes)
      .where(inArray(changeRequestVotes.changeRequestId, pageIds))
      .orderBy(changeRequestVotes.createdAt, changeRequestVotes.id),
    db
      .select()
      .from(users)
      .where(
        or(
          inArray(users.id, ordered(sql`${changeRequests.createdById}`)),
          inArray(users.id, ordered(sql`${changeRequests.appliedById}`)),
          inArray(
            users.id,
            db
              .select({ value: changeRequestVotes.userId })
              .from(changeRequestVotes)
              .where(inArray(changeRequestVotes.changeRequestId, ordered(sql`${changeRequests.id}`))),
          ),
        ),
      ),
    db
      .select({ id: roleMemberships.roleId })
      .from(roleMemberships)
      .innerJoin(roles, eq(roles.id, roleMemberships.roleId))
      .where(
        and(
          sql`${roleMemberships.userId} = ${callerUserId(caller)}`,
          sql`${roles.organizationId} = (SELECT organization_id FROM projects WHERE id = ${projectId})`,
        ),
      ),
  ]);
  const byRequest = new Map<string, VoteRecord[]>();
  for (const row of votes) byRequest.set(row.changeRequestId, [...(byRequest.get(row.changeRequestId) ?? []), voteFromRow(row)]);
  const snapshots = rows.map((row) => ({ record: recordFromRow(row), votes: byRequest.get(row.id) ?? [] }));
  return { total: total?.n ?? 0, snapshots, people, roleIds: roleRows.map((r) => r.id) };
}

export async function roleIdsOf(db: Db, organizationId: string, userId: number): Promise<string[]> {
  const rows = await db
    .select({ id: roleMemberships.roleId })
    .from(roleMemberships)
    .innerJoin(roles, eq(roles.id, roleMemberships.roleId))
    .where(and(eq(roleMemberships.userId, userId), eq(roles.organizationId, organizationId)));
  return rows.map((r) => r.id);
}

/** The vote rows of the requests, in the order a request shows them (also batched by the object's load). */
export const votesQuery = (db: Db, ids: string[]) =>
  db
    .select()
    .from(changeRequestVotes)
    .where(inList(changeRequestVotes.changeRequestId, ids))
    .orderBy(changeRequestVotes.createdAt, changeRequestVotes.id);

export async function votesOf(db: Db, ids: string[]): Promise<Map<string, VoteRecord[]>> {
  const byRequest = new Map<string, VoteRecord[]>();
  if (!ids.length) return byRequest;
  const rows = await votesQuery(db, ids);
  for (const row of rows) byRequest.set(row.changeRequestId, [...(byRequest.get(row.changeRequestId) ?? []), voteFromRow(row)]);
  return byRequest;
}

export async function isVisible(db: Db, project: Project, id: string): Promise<boolean> {
  const [row] = await db
    .select({ id: changeRequests.id })
    .from(changeRequests)
    .where(and(eq(changeRequests.id, id), visibleInProject(project)));
  return Boolean(row);
}

/** A change request visible in the project, with its votes; 404 otherwise. */
export async function findChangeRequest(db: Db, project: Project, id: string): Promise<ChangeRequestSnapshot> {
  const [row] = await db
    .select()
    .from(changeRequests)
    .where(and(eq(changeRequests.id, id), visibleInProject(project)));
  if (!row) throw notFound();
  return { record: recordFromRow(row), votes: (await votesOf(db, [id])).get(id) ?? [] };
}

/** The open (pending or approved) request for the same action and resource, as the unique index sees it. */
export async function findOpenChangeRequest(
  db: Db,
  key: {
    actionKey: string;
    organizationId: string;
    teamId: number | null;
    resourceType: string;
    resourceId: string | null;
    createdById: number;
  },
) {
  const resourceKey = key.resourceId ?? `new:${key.createdById}`;
  const [row] = await db
    .select()
    .from(changeRequests)
    .where(
      and(
        eq(changeRequests.actionKey, key.actionKey),
        eq(changeRequests.organizationId, key.organizationId),
        sql`coalesce(${changeRequests.teamId}, 0) = ${key.teamId ?? 0}`,
        eq(changeRequests.resourceType, key.resourceType),
        sql`coalesce(${changeRequests.resourceId}, 'new:' || ${changeRequests.createdById}) = ${resourceKey}`,
        sql`${changeRequests.state} in ('pending', 'approved')`,
      ),
    )
    .limit(1);
  return row ? { record: recordFromRow(row), votes: (await votesOf(db, [row.id])).get(row.id) ?? [] } : null;
}

async function usersById(db: Db, snapshots: ChangeRequestSnapshot[]) {
  const ids = new Set<number>();
  for (const { record, votes } of snapshots) {
    if (record.createdById !== null) ids.add(record.createdById);
    if (record.appliedById !== null) ids.add(record.appliedById);
    for (const vote of votes) if (vote.userId !== null) ids.add(vote.userId);
  }
  const rows = ids.size
    ? await db
        .select()
        .from(users)
        .where(inList(users.id, [...ids]))
    : [];
  return userLookup(rows);
}

function userLookup(rows: User[]) {
  const byId = new Map(rows.map((u) => [u.id, serializeUserBasic(u)]));
  return (id: number | null) => (id === null ? null : (byId.get(id) ?? null));
}

function serializeRecord(record: ChangeRequestRecord, votes: VoteRecord[], user: Awaited<ReturnType<typeof usersById>>) {
  return {
    id: record.id,
    action_key: record.actionKey,
    action_version: record.actionVersion,
    resource_type: record.resourceType,
    resource_id: record.resourceId,
    intent: record.intent,
    intent_display: record.intentDisplay as unknown as Record<string, unknown>,
    policy_snapshot: record.policySnapshot as unknown as Record<string, unknown>,
    validation_status: record.validationStatus,
    validation_errors: record.validationErrors,
    validated_at: iso(record.validatedAt),
    state: record.state,
    created_by: user(record.createdById),
    applied_by: user(record.appliedById),
    created_at: isoRequired(record.createdAt),
    updated_at: isoRequired(record.updatedAt),
    expires_at: isoRequired(record.expiresAt),
    applied_at: iso(record.appliedAt),
    apply_error: record.applyError,
    result_data: record.resultData,
    approvals: votes.map((v) => ({
      id: v.id,
      created_by: user(v.userId),
      decision: v.decision,
      reason: v.reason,
      created_at: isoRequired(v.createdAt),
    })),
  };
}

/** API shape, with can_approve / can_cancel / is_requester / user_decision computed for the caller. */
export async function serializeChangeRequests(db: Db, snapshots: ChangeRequestSnapshot[], caller: Voter) {
  return serializeWith(snapshots, caller, await usersById(db, snapshots));
}

/** `serializeChangeRequests` with the users already read (`changeRequestsPage`). */
export function serializeChangeRequestsWith(snapshots: ChangeRequestSnapshot[], caller: Voter, people: User[]) {
  return serializeWith(snapshots, caller, userLookup(people));
}

function serializeWith(snapshots: ChangeRequestSnapshot[], caller: Voter, user: ReturnType<typeof userLookup>) {
  return snapshots.map(({ record, votes }) => ({
    ...serializeRecord(record, votes, user),
    can_approve: canApprove(record, caller),
    can_cancel: canCancel(record, votes, caller.userId),
    is_requester: record.createdById === caller.userId,
    user_decision: votes.find((v) => v.userId === caller.userId)?.decision ?? null,
  }));
}

export async function serializeChangeRequest(db: Db, snapshot: ChangeRequestSnapshot, caller: Voter) {
  const [result] = await serializeChangeRequests(db, [snapshot], caller);
  return result!;
}

/**
 * `data` of a `change_request_*` event (the shape the notifications consumer documents): the request,
 * its requester and the user whose step it is (null for system steps such as expiry).
 */
export async function changeRequestEventData(db: Db, snapshot: ChangeRequestSnapshot, actorId: number | null, reason?: string) {
  const { record, votes } = snapshot;
  const ids = [record.createdById, actorId].filter((id): id is number => id !== null);
  const rows = ids.length ? await db.select().from(users).where(inList(users.id, ids)) : [];
  const person = (id: number | null) => {
    const u = rows.find((r) => r.id === id);
    return u ? { id: u.id, first_name: u.firstName, last_name: u.lastName, email: u.email } : null;
  };
  return {
    change_request: {
      id: record.id,
      action_key: record.actionKey,
      intent_display: record.intentDisplay,
      state: record.state,
      resource_type: record.resourceType,
      resource_id: record.resourceId,
      project_id: record.teamId,
      expires_at: isoRequired(record.expiresAt),
      approvals_received: votes.filter((v) => v.decision === "approved").length,
      quorum: record.policySnapshot.quorum,
      apply_error: record.applyError || null,
    },
    requester: person(record.createdById),
    actor: person(actorId),
    ...(reason ? { reason } : {}),
  };
}
