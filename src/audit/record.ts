import { getTableColumns, is, SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { SQLiteInsertValue } from "drizzle-orm/sqlite-core";
import type { Context } from "hono";
import type { AppBindings } from "../auth/context";
import type { Db } from "../db/client";
import { type ActivityChange, type ActivityDetail, activityLog } from "../db/schema";
import type { Env } from "../env";
import {
  ACTIVITY_EVENT_COLUMNS,
  activityOutboxInsert,
  type CommittedActivity,
  outboxInsert,
  outboxWritten,
  publishOutboxSafely,
} from "../events/outbox";
import { uuidv7 } from "../lib/ids";
import type { NotificationEvent } from "../lib/messages";
import { sealSoon } from "./sequencer";

/**
 * The resource types the service records itself. Apps cannot record them through ingest, so a row
 * under one of them was written by the service. `ActivityEntry.scope` takes only these or an
 * `AppScope`: a service write under a new scope does not compile until the scope is listed here.
 */
export const SERVICE_SCOPES = [
  "ApprovalPolicy",
  "ChangeRequest",
  "ExportedAsset",
  "LogsAlertConfiguration",
  "NotificationDestination",
  "Organization",
  "OrganizationInvite",
  "OrganizationMembership",
  "PersonalAPIKey",
  "Project",
  "Role",
  "ViewerToken",
] as const;
export type ServiceScope = (typeof SERVICE_SCOPES)[number];

declare const appScopeBrand: unique symbol;
/** A scope an app records through ingest, checked by `appScope` not to be a service scope. */
export type AppScope = string & { readonly [appScopeBrand]: true };

const RESERVED_SCOPES = new Set(SERVICE_SCOPES.map((scope) => scope.toLowerCase()));

/** The scope as an app's, or null when it names (in any case) a scope the service writes itself. */
export function appScope(scope: string): AppScope | null {
  return RESERVED_SCOPES.has(scope.toLowerCase()) ? null : (scope as AppScope);
}

/** The authenticated user and key behind a write (`recorded_by`). */
export interface Recorder {
  userId: number;
  keyId: string;
}

/** Who performed a write: a person through the API, or the system (cron, alarms, queue jobs). */
export interface Actor {
  userId: number | null;
  isSystem: boolean;
  wasImpersonated: boolean;
  client: string | null;
  ipAddress: string | null;
  /** Null for the system and for requests without a key (signup). */
  recordedBy: Recorder | null;
}

export const SYSTEM_ACTOR: Actor = {
  userId: null,
  isSystem: true,
  wasImpersonated: false,
  client: null,
  ipAddress: null,
  recordedBy: null,
};

const MAX_CLIENT_LENGTH = 32;

export function actorFromRequest(c: Context<AppBindings>): Actor {
  const client = c.req.header("x-posthog-client")?.trim().slice(0, MAX_CLIENT_LENGTH) || null;
  const auth = c.var.auth;
  return {
    userId: auth?.user.id ?? null,
    isSystem: false,
    wasImpersonated: false,
    client,
    ipAddress: c.req.header("cf-connecting-ip") ?? c.req.header("x-real-ip") ?? null,
    recordedBy: auth ? { userId: auth.user.id, keyId: auth.key.id } : null,
  };
}

export interface ActivityEntry {
  organizationId: string;
  // SQL lets a row reference an id assigned in the same batch, e.g. a project being created.
  teamId?: number | SQL | null;
  scope: ServiceScope | AppScope;
  activity: string;
  itemId: string | number | SQL | null;
  detail: ActivityDetail;
  createdAt?: Date;
  /** Overrides the actor's user for rows whose user is created in the same batch (signup). */
  userId?: SQL;
  /** Per-row actor fields, for rows an app records on behalf of its own users (activity ingest). */
  actor?: Partial<Pick<Actor, "userId" | "isSystem" | "wasImpersonated">>;
  /** A row id chosen by the caller (ingest answers with the ids it stored). */
  id?: string;
}

export type ActivityRow = SQLiteInsertValue<typeof activityLog>;

function activityRow(requestActor: Actor, entry: ActivityEntry): ActivityRow {
  const actor = entry.actor ? { ...requestActor, ...entry.actor } : requestActor;
  return {
    id: entry.id ?? uuidv7(),
    organizationId: entry.organizationId,
    teamId: entry.teamId ?? null,
    userId: entry.userId ?? actor.userId,
    wasImpersonated: actor.wasImpersonated,
    isSystem: entry.actor?.isSystem ?? (actor.isSystem || (actor.userId === null && !entry.userId)),
    client: actor.client,
    ipAddress: actor.ipAddress,
    activity: entry.activity,
    itemId: typeof entry.itemId === "number" ? String(entry.itemId) : entry.itemId,
    scope: entry.scope,
    detail: entry.detail,
    createdAt: entry.createdAt ?? new Date(),
    // Always the request's: an entry's `actor` is what an app claims, this is who wrote it.
    recordedByUserId: requestActor.recordedBy?.userId ?? null,
    recordedByKeyId: requestActor.recordedBy?.keyId ?? null,
  };
}

export interface WriteContext {
  db: Db;
  env: Env;
  actor: Actor;
  waitUntil: (promise: Promise<unknown>) => void;
}

export function writeContext(c: Context<AppBindings>, db: Db): WriteContext {
  return { db, env: c.env, actor: actorFromRequest(c), waitUntil: (p) => c.executionCtx.waitUntil(p) };
}

type AnyBatchItem = BatchItem<"sqlite">;

const ACTIVITY_COLUMNS = Object.entries(getTableColumns(activityLog));
// A multi-row VALUES insert binds every column of every row: D1 allows 100 parameters a statement.
const ROWS_PER_VALUES_INSERT = Math.floor(100 / ACTIVITY_COLUMNS.length);
// Bytes of JSON per insert statement: D1 caps a bound value at 2 MB. A typical 1000-row batch is one statement.
const JSON_BYTES_PER_INSERT = 1_000_000;

/** A plain row's values in table column order, as JSON values (booleans 0/1, dates in ms, detail as text). */
function columnValues(row: ActivityRow): unknown[] {
  return ACTIVITY_COLUMNS.map(([key]) => {
    const value = row[key as keyof ActivityRow];
    if (key === "detail") return value === null || value === undefined ? null : JSON.stringify(value);
    if (value instanceof Date) return value.getTime();
    if (typeof value === "boolean") return value ? 1 : 0;
    return value ?? null;
  });
}

/** What the outbox publisher needs of a row whose values are all known before the commit. */
function committedOf(row: ActivityRow): CommittedActivity {
  return {
    id: row.id as string,
    organizationId: row.organizationId as string,
    teamId: (row.teamId as number | null | undefined) ?? null,
    scope: row.scope as string,
    activity: row.activity as string,
    itemId: (row.itemId as string | null | undefined) ?? null,
    createdAt: row.createdAt as Date,
  };
}

/**
 * The inserts of a batch's activity rows. D1 allows 100 bound parameters per statement: plain rows
 * go in as one JSON parameter per statement (`INSERT ... SELECT ... FROM json_each`, one statement
 * for a whole ingest batch), rows holding SQL (ids assigned in the same batch) as multi-row VALUES
 * of 7 with RETURNING for their committed values. `committed` holds the plain rows' values and,
 * for each RETURNING statement, its index in `statements`.
 */
function activityInserts(db: Db, rows: ActivityRow[]): { statements: AnyBatchItem[]; committed: (CommittedActivity | number)[] } {
  const plain: ActivityRow[] = [];
  const withSql: ActivityRow[] = [];
  for (const row of rows) (Object.values(row).some((value) => is(value, SQL)) ? withSql : plain).push(row);
  const statements: AnyBatchItem[] = [];
  const committed: (CommittedActivity | number)[] = [];
  const values = plain.map(columnValues);
  // A column with one value across the rows (organization, project, client of an ingest batch) is
  // bound once; only the others travel in the JSON, each `->>` costs a parse of the row's array.
  const constant = ACTIVITY_COLUMNS.map((_, i) => values.every((v) => v[i] === values[0]?.[i]));
  const varying = ACTIVITY_COLUMNS.map((_, i) => i).filter((i) => !constant[i]);
  let chunk: string[] = [];
  let bytes = 0;
  const flush = () => {
    const first = values[0];
    if (!chunk.length || !first) return;
    const columns = ACTIVITY_COLUMNS.map(([key], i) => {
      if (key === "seq") return sql`NULL`;
      return constant[i] ? sql`${first[i]}` : sql.raw(`value ->> ${varying.indexOf(i)}`);
    });
    statements.push(db.insert(activityLog).select(sql`SELECT ${sql.join(columns, sql`, `)} FROM json_each(${`[${chunk.join(",")}]`})`));
    chunk = [];
    bytes = 0;
  };
  plain.forEach((row, n) => {
    const json = JSON.stringify(varying.map((i) => values[n]![i]));
    if (bytes + json.length > JSON_BYTES_PER_INSERT) flush();
    chunk.push(json);
    bytes += json.length + 1;
    committed.push(committedOf(row));
  });
  flush();
  for (let i = 0; i < withSql.length; i += ROWS_PER_VALUES_INSERT) {
    committed.push(statements.length);
    statements.push(
      db
        .insert(activityLog)
        .values(withSql.slice(i, i + ROWS_PER_VALUES_INSERT))
        .returning(ACTIVITY_EVENT_COLUMNS),
    );
  }
  return { statements, committed };
}

/**
 * The one way the service writes: the given statements and their activity rows go to D1 in a
 * single batch (one transaction), so a write never lands without its audit row or vice versa.
 * The same batch writes the outbox row holding the notification events of the change: those of
 * its activity rows and `events` (change-request steps...), so an event is never lost to a crash
 * after the commit (src/events/outbox.ts). A commit of activity rows alone writes it only when one
 * of their organizations has an activity subscription, and publishes only then. The sequencer then gives the rows their place in the
 * hash chain (src/activity/chain.ts). Returns the results of `writes` in order.
 */
export async function commitWithActivity(
  ctx: WriteContext,
  writes: AnyBatchItem[],
  entries: ActivityEntry[],
  events: NotificationEvent[] = [],
): Promise<unknown[]> {
  const rows = entries.map((entry) => activityRow(ctx.actor, entry));
  const inserts = activityInserts(ctx.db, rows);
  const statements: AnyBatchItem[] = [...writes, ...inserts.statements];
  // The outbox row commits with the activity rows, so their notification events survive a failed publish.
  const activityIds = rows.map((row) => row.id as string);
  const outbox = events.length
    ? outboxInsert(ctx.db, activityIds, events)
    : rows.length
      ? activityOutboxInsert(ctx.db, activityIds, [...new Set(rows.map((row) => row.organizationId as string))])
      : null;
  if (outbox) statements.push(outbox.statement);
  const [first, ...rest] = statements;
  if (!first) return [];
  const results = await ctx.db.batch([first, ...rest]);
  if (outbox && outboxWritten(results[statements.length - 1])) {
    const committed = inserts.committed.flatMap((c) => (typeof c === "number" ? (results[writes.length + c] as CommittedActivity[]) : [c]));
    ctx.waitUntil(publishOutboxSafely(ctx.env, outbox.id, committed, outbox.events));
  }
  if (rows.length) ctx.waitUntil(sealSoon(ctx.env, [...new Set(rows.map((row) => row.organizationId as string))]));
  return results.slice(0, writes.length);
}

const MASKED = "masked";

/**
 * Field-level diff of two versions of an object, as PostHog's `changes`: one entry per changed
 * field, secrets replaced by "masked".
 */
export function diffChanges(
  type: string,
  before: Record<string, unknown>,
  after: Record<string, unknown>,
  options: { fields?: string[]; masked?: string[] } = {},
): ActivityChange[] {
  const fields = options.fields ?? [...new Set([...Object.keys(before), ...Object.keys(after)])];
  const masked = new Set(options.masked ?? []);
  const changes: ActivityChange[] = [];
  for (const field of fields) {
    const was = before[field];
    const now = after[field];
    if (JSON.stringify(was) === JSON.stringify(now)) continue;
    changes.push({
      type,
      action: "changed",
      field,
      before: masked.has(field) ? MASKED : (was ?? null),
      after: masked.has(field) ? MASKED : (now ?? null),
    });
  }
  return changes;
}

export function createdChange(type: string, after?: unknown): ActivityChange[] {
  return [{ type, action: "created", after: after ?? null }];
}

export function deletedChange(type: string, before?: unknown): ActivityChange[] {
  return [{ type, action: "deleted", before: before ?? null }];
}
