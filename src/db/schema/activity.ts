import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { users } from "./accounts";
import { json, timestamp } from "./columns";

export interface ActivityChange {
  type: string;
  action: string;
  field?: string | null;
  before?: unknown;
  after?: unknown;
}

export interface ActivityDetail {
  name?: string | null;
  short_id?: string | null;
  type?: string | null;
  changes?: ActivityChange[] | null;
  trigger?: { job_type: string; job_id: string; payload: unknown } | null;
  context?: Record<string, unknown> | null;
}

// `seq` is the row's integer id (the SD Elements feed exposes integer ids); `id` is the
// PostHog-facing UUID v7.
export const activityLog = sqliteTable(
  "activity_log",
  {
    seq: integer().primaryKey({ autoIncrement: true }),
    id: text().notNull().unique(),
    organizationId: text().notNull(),
    teamId: integer(),
    userId: integer(),
    wasImpersonated: integer({ mode: "boolean" }).notNull().default(false),
    isSystem: integer({ mode: "boolean" }).notNull().default(false),
    client: text(),
    ipAddress: text(),
    activity: text().notNull(),
    itemId: text(),
    scope: text().notNull(),
    detail: json<ActivityDetail>(),
    createdAt: timestamp().notNull(),
    // Who really wrote the row (the authenticated user and key of the request), whatever `user_id`
    // an app claims through ingest; null for system rows. No foreign keys: the evidence outlives
    // a revoked key or a deleted user.
    recordedByUserId: integer(),
    recordedByKeyId: text(),
  },
  // The list queries walk one of the two time indexes newest-first and test every low-cardinality
  // filter on the index entry itself, so only the rows of the page are read from the table. Both
  // grow at their right edge as rows arrive. `item_ids` and `search_text` use FTS5 indexes filled
  // behind the writes (custom migrations, with the append-only triggers): a b-tree on item_id takes
  // inserts all over the tree and cost five times the rest of an insert at a million rows. The
  // query layer names its index (`INDEXED BY`), see src/activity/activity.query.ts.
  (t) => [
    index("activity_log_team_time").on(t.teamId, t.createdAt, t.scope, t.activity, t.userId, t.client, t.isSystem, t.wasImpersonated),
    index("activity_log_org_time").on(
      t.organizationId,
      t.createdAt,
      t.teamId,
      t.scope,
      t.activity,
      t.userId,
      t.client,
      t.isSystem,
      t.wasImpersonated,
    ),
    // `ip_addresses` (exact or `prefix*`): a range of this index, then the tenant on the row. An
    // ingest batch shares one address, so its rows land side by side here.
    index("activity_log_org_ip").on(t.organizationId, t.ipAddress, t.createdAt),
    // Each chain shard's sequencer reads its rows past its mark (src/activity/chain.ts).
    index("activity_log_chain_shard").on(sql`substr(${t.organizationId}, -1)`, t.seq),
  ],
);

/** Instance-wide flags. The `first_user` row makes the first-run signup happen at most once. */
export const activityLogFacets = sqliteTable(
  "activity_log_facets",
  {
    organizationId: text().notNull(),
    /** 0 for organization-level rows (`team_id` null). */
    teamId: integer().notNull(),
    /** `user` (value = user id), `client`, `activity` (with its scope), `field` (detail path, with scope and JSON type). */
    kind: text().notNull(),
    scope: text().notNull().default(""),
    value: text().notNull(),
    type: text().notNull().default(""),
  },
  (t) => [primaryKey({ columns: [t.organizationId, t.teamId, t.kind, t.scope, t.value, t.type] })],
);

export const activityNotificationBookmarks = sqliteTable("activity_notification_bookmarks", {
  userId: integer()
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  lastViewedActivityDate: timestamp().notNull(),
});

export const activityIngestKeys = sqliteTable(
  "activity_ingest_keys",
  {
    /** sha256 of (project id, user id, Idempotency-Key header). */
    key: text().primaryKey(),
    requestHash: text().notNull(),
    status: integer().notNull(),
    response: text().notNull(),
    createdAt: timestamp().notNull(),
  },
  (t) => [index("activity_ingest_keys_created").on(t.createdAt)],
);

// The hash chain (src/activity/chain.ts). A row's place in its organization's chain lives beside
// the row, keyed by the row's `seq`: the sequencer seals rows after they commit, inserting here
// instead of updating the append-only activity_log.
export const activityChain = sqliteTable(
  "activity_chain",
  {
    seq: integer().primaryKey(),
    organizationId: text().notNull(),
    /** Per organization, gapless from 1, in commit order. */
    sequence: integer().notNull(),
    /** Hex SHA-256 of the previous row's hash and the row's canonical JSON. */
    hash: text().notNull(),
    /**
     * Which fields the hash covers (src/lib/chain-hash.ts): 1 for rows sealed before recorded_by was
     * hashed (the default, so a sealer that does not name it, as before, records what it computed), 2 since.
     */
    hashVersion: integer().notNull().default(1),
  },
  (t) => [uniqueIndex("activity_chain_org_sequence").on(t.organizationId, t.sequence)],
);

/** Each organization's last sealed row. */
export const activityChainHeads = sqliteTable("activity_chain_heads", {
  organizationId: text().primaryKey(),
  sequence: integer().notNull(),
  hash: text().notNull(),
});

/**
 * Points of the chain vouched for outside the rows: `signed` (the daily Ed25519 signature of the
 * head) and `retention` (the last row the retention sweep deleted, where the remaining chain starts).
 */
export const activityChainCheckpoints = sqliteTable(
  "activity_chain_checkpoints",
  {
    id: text().primaryKey(),
    organizationId: text().notNull(),
    kind: text({ enum: ["signed", "retention"] }).notNull(),
    sequence: integer().notNull(),
    hash: text().notNull(),
    createdAt: timestamp().notNull(),
    keyId: text(),
    signature: text(),
  },
  (t) => [uniqueIndex("activity_chain_checkpoints_org").on(t.organizationId, t.kind, t.sequence)],
);
