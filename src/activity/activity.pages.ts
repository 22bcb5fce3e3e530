import { type Caller, callerParam, callerUserIdSql } from "../auth/one-trip";
import { ApiError } from "../lib/errors";
import { iso } from "../lib/time";
import {
  type ActivityFilters,
  type ActivityRowRecord,
  countStatement,
  type Direction,
  decodeCursor,
  encodeCursor,
  hasTenants,
  type PageRequest,
  pageStatement,
  planQuery,
  positionOf,
  type Tenancy,
} from "./activity.queries";

export interface PageParams {
  ordering?: "-created_at" | "created_at";
  cursor?: string;
  page?: number;
  page_size: number;
  follow?: boolean | null;
}

const parseJson = (text: string | null) => (text === null ? null : JSON.parse(text));

/** The `u_` (named user) or `r_` (recorder) columns of a row as a UserBasic, null when the user is gone. */
function userOf(row: ActivityRowRecord, id: number | null, alias: "u" | "r") {
  const column = (name: string) => row[`${alias}_${name}` as keyof ActivityRowRecord] as string | number | null;
  const uuid = column("uuid");
  if (id === null || uuid === null) return null;
  return {
    id,
    uuid: uuid as string,
    distinct_id: (column("distinct_id") as string | null) ?? "",
    first_name: (column("first_name") as string | null) ?? "",
    last_name: (column("last_name") as string | null) ?? "",
    email: (column("email") as string | null) ?? "",
    is_email_verified: Boolean(column("is_email_verified")),
    hedgehog_config: parseJson(column("hedgehog_config") as string | null),
    role_at_organization: column("role_at_organization") as string | null,
  };
}

/** A row as the API shows it (seed 000/001 shape, plus `recorded_by`); `unread` is relative to the caller's bookmark. */
export function serializeActivity(row: ActivityRowRecord, bookmark: number | null) {
  const recorded = row.recorded_by_user_id !== null || row.recorded_by_key_id !== null;
  return {
    id: row.id,
    user: userOf(row, row.user_id, "u"),
    unread: bookmark === null || bookmark < row.created_at,
    organization_id: row.organization_id,
    team_id: row.team_id,
    was_impersonated: Boolean(row.was_impersonated),
    is_system: Boolean(row.is_system),
    client: row.client,
    ip_address: row.ip_address,
    activity: row.activity,
    item_id: row.item_id,
    scope: row.scope,
    detail: parseJson(row.detail),
    created_at: iso(row.created_at) as string,
    recorded_by: recorded ? { user: userOf(row, row.recorded_by_user_id, "r"), api_key_id: row.recorded_by_key_id } : null,
    sequence: row.sequence,
    hash: row.hash,
  };
}
export type SerializedActivity = ReturnType<typeof serializeActivity>;

function linkWith(requestUrl: string, changes: Record<string, string | null>): string {
  const url = new URL(requestUrl);
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) url.searchParams.delete(key);
    else url.searchParams.set(key, value);
  }
  return url.toString();
}

/**
 * PostHog's ActivityLogPagination: cursor pages by default (`{next, previous, results}`, ordered by
 * (created_at, id)), page numbers with `count` when `page` is given. The page, its count and the
 * caller's notification bookmark (for `unread`) go to D1 as one batch: one round trip.
 */
export async function activityPage<T>(
  db: D1Database,
  requestUrl: string,
  partitions: Tenancy,
  filters: ActivityFilters,
  params: PageParams,
  serialize: (rows: ActivityRowRecord[], bookmark: number | null, extra: D1Result[]) => T[] | Promise<T[]>,
  bookmarkOwner?: Caller,
  /** More statements for the same batch (the SD Elements feed's names); their results go to `serialize`. */
  extraStatements: D1PreparedStatement[] = [],
): Promise<{ count?: number; next: string | null; previous: string | null; results: T[] }> {
  const direction: Direction = params.ordering === "created_at" ? "asc" : "desc";
  const size = params.page_size;
  const cursor = params.page === undefined && params.cursor ? decodeCursor(params.cursor) : null;
  const plan = hasTenants(partitions) ? planQuery(filters, partitions) : null;

  const run = async (page: PageRequest, withCount: boolean) => {
    const statements: D1PreparedStatement[] = [];
    if (plan) statements.push(pageStatement(db, plan, partitions, filters, page));
    if (plan && withCount) statements.push(countStatement(db, plan, partitions, filters));
    if (bookmarkOwner !== undefined) statements.push(bookmarkStatement(db, bookmarkOwner));
    statements.push(...extraStatements);
    const results = statements.length ? await db.batch<Record<string, unknown>>(statements) : [];
    const rows = (plan ? (results.shift()?.results ?? []) : []) as unknown as ActivityRowRecord[];
    const count = plan && withCount ? Number(results.shift()?.results[0]?.n ?? 0) : 0;
    const mark = bookmarkOwner !== undefined ? results.shift()?.results[0]?.at : undefined;
    return { rows, count, bookmark: typeof mark === "number" ? mark : null, extra: results as D1Result[] };
  };

  if (params.page !== undefined) {
    const page = params.page;
    const { rows, count, bookmark, extra } = await run({ direction, limit: size, offset: (page - 1) * size }, true);
    if (page > 1 && (page - 1) * size >= count) throw new ApiError(404, "invalid_request", "not_found", "Invalid page.");
    return {
      count,
      next: page * size < count ? linkWith(requestUrl, { page: String(page + 1), cursor: null }) : null,
      previous: page > 1 ? linkWith(requestUrl, { page: page === 2 ? null : String(page - 1), cursor: null }) : null,
      results: await serialize(rows, bookmark, extra),
    };
  }

  const link = (position: ReturnType<typeof positionOf>, reverse: boolean) =>
    linkWith(requestUrl, { cursor: encodeCursor({ position, reverse }) });

  if (cursor?.reverse) {
    const opposite: Direction = direction === "desc" ? "asc" : "desc";
    const { rows: fetched, bookmark, extra } = await run({ direction: opposite, limit: size + 1, after: cursor.position }, false);
    const rows = fetched.slice(0, size).reverse();
    const first = rows[0];
    const last = rows[rows.length - 1];
    return {
      next: last ? link(positionOf(last), false) : null,
      previous: fetched.length > size && first ? link(positionOf(first), true) : null,
      results: await serialize(rows, bookmark, extra),
    };
  }

  const { rows: fetched, bookmark, extra } = await run({ direction, limit: size + 1, after: cursor?.position }, false);
  const rows = fetched.slice(0, size);
  const first = rows[0];
  const last = rows[rows.length - 1];
  // `follow` (ascending only) keeps a `next` at the tail so a poller resumes where it stopped.
  const following = Boolean(params.follow) && direction === "asc";
  const tail = last ? positionOf(last) : cursor?.position;
  let next: string | null = null;
  if (fetched.length > size && last) next = link(positionOf(last), false);
  else if (following && tail) next = link(tail, false);
  let previous: string | null = null;
  if (cursor) previous = link(first ? positionOf(first) : cursor.position, true);
  return { next, previous, results: await serialize(rows, bookmark, extra) };
}

/**
 * The caller's "notifications viewed" date, as `{at}` (PostHog's NotificationViewed); on a one-trip
 * read, before the key is known, the user is found by the key inside the statement.
 */
const bookmarkStatement = (db: D1Database, caller: Caller) =>
  db
    .prepare(`SELECT last_viewed_activity_date AS at FROM activity_notification_bookmarks WHERE user_id = ${callerUserIdSql(caller, "?1")}`)
    .bind(callerParam(caller));

export async function bookmarkOf(db: D1Database, userId: number): Promise<number | null> {
  return (await bookmarkStatement(db, { userId }).first<{ at: number }>())?.at ?? null;
}

export const asActivityLog = (rows: ActivityRowRecord[], bookmark: number | null) => rows.map((row) => serializeActivity(row, bookmark));
