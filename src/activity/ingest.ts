import { z } from "@hono/zod-openapi";
import { and, eq, gt, lte } from "drizzle-orm";
import type { Context } from "hono";
import { type ActivityEntry, appScope, commitWithActivity, writeContext } from "../audit/record";
import type { AppBindings, ProjectAccess, User } from "../auth/context";
import { createDb } from "../db/client";
import { type ActivityDetail, activityIngestKeys } from "../db/schema";
import { parseIsoDate, toEpochMs } from "../lib/dates";
import { conflict, validationError } from "../lib/errors";
import { sha256Hex, uuidv7s } from "../lib/ids";
import { iso } from "../lib/time";
import { serializeUserBasic } from "../users";

export const MAX_INGEST_ENTRIES = 1000;
export const MAX_DETAIL_BYTES = 64 * 1024;
/** Clock skew tolerated on a client's `created_at` before it counts as "in the future". */
const FUTURE_TOLERANCE_MS = 60_000;
/** How far back an app may date a row (backfills, queued retries): older history cannot be written into the log. */
export const BACKDATE_WINDOW_DAYS = 7;
const BACKDATE_WINDOW_MS = BACKDATE_WINDOW_DAYS * 24 * 60 * 60 * 1000;
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

const CHANGE_ACTIONS = ["changed", "created", "deleted", "merged", "split", "exported"] as const;

const ChangeInput = z
  .object({
    type: z.string().min(1).max(79),
    action: z.enum(CHANGE_ACTIONS),
    field: z.string().max(400).nullable().optional(),
    before: z.unknown().optional(),
    after: z.unknown().optional(),
  })
  .strict();

const DetailInput = z
  .object({
    name: z.string().max(400).nullable().optional(),
    short_id: z.string().max(72).nullable().optional(),
    type: z.string().max(79).nullable().optional(),
    changes: z.array(ChangeInput).max(1000).nullable().optional(),
    trigger: z
      .object({ job_type: z.string().max(200), job_id: z.string().max(200), payload: z.unknown() })
      .strict()
      .nullable()
      .optional(),
    context: z.record(z.string(), z.unknown()).nullable().optional(),
  })
  .strict()
  .refine((detail) => JSON.stringify(detail).length <= MAX_DETAIL_BYTES, {
    message: `detail must serialize to at most ${MAX_DETAIL_BYTES} bytes.`,
  });

/** SD Elements standard ids: `T<n>` built-in, `CT<n>` custom (seed 004). */
export const STANDARD_ID = /^C?T\d+$/;

const StandardInput = z
  .object({
    id: z.string().regex(STANDARD_ID, "A standard id is T<number> (built-in) or CT<number> (custom)."),
    name: z.string().trim().min(1).max(400).openapi({ example: "T21: Ensure confidential data is sent over an encrypted channel" }),
  })
  .strict();

/** The standard rides in the detail's context, so the row's hash, exports and detail filters cover it. */
function withStandard(detail: ActivityDetail, standard: z.infer<typeof StandardInput> | undefined): ActivityDetail {
  return standard ? { ...detail, context: { ...detail.context, standard } } : detail;
}

export const ActivityEntryInputSchema = z
  .object({
    scope: z
      .string()
      .trim()
      .min(1)
      .max(79)
      .transform((value, ctx) => {
        const scope = appScope(value);
        if (scope === null) {
          ctx.addIssue({ code: "custom", message: `Scope '${value}' is reserved for the rows the service records itself.` });
          return z.NEVER;
        }
        return scope;
      })
      .openapi({
        description:
          "Resource type, e.g. FeatureFlag: any name except the scopes the service records itself (Project, ChangeRequest, ...).",
        type: "string",
      }),
    activity: z.string().trim().min(1).max(79).openapi({ description: "e.g. created, updated, deleted." }),
    item_id: z
      .union([z.string().max(72), z.number().int()])
      .nullable()
      .optional(),
    detail: DetailInput.optional().openapi({
      description: "`{name, short_id, type, changes: [{type, action, field, before, after}], trigger, context}`.",
    }),
    user: z
      .union([z.number().int().positive(), z.string().min(1).max(254)])
      .nullable()
      .optional()
      .openapi({
        description:
          "Acting user by id, uuid or email (a member of the organization), or null for none; default the key's user. " +
          "The row's `recorded_by` names the key's user and key whatever this says.",
      }),
    was_impersonated: z.boolean().optional(),
    is_system: z
      .boolean()
      .optional()
      .refine((value) => value !== true, { message: "is_system cannot be set through ingest: system rows are the service's own." })
      .openapi({ description: "Only `false`: system rows are the service's own." }),
    standard: StandardInput.optional().openapi({
      description: "The SD Elements standard (library task) the activity concerns; stored as `detail.context.standard`.",
    }),
    created_at: z
      .string()
      .optional()
      .openapi({
        description: `ISO 8601 (naive = UTC); default now. At most ${BACKDATE_WINDOW_DAYS} days in the past, not in the future.`,
      })
      .superRefine((value, ctx) => {
        if (value === undefined) return;
        const parsed = parseIsoDate(value);
        if (!parsed) ctx.addIssue({ code: "custom", message: "Datetime has wrong format. Use ISO 8601, e.g. 2024-01-31T12:00:00Z." });
        else if (toEpochMs(parsed) > Date.now() + FUTURE_TOLERANCE_MS)
          ctx.addIssue({ code: "custom", message: "created_at cannot be in the future." });
        else if (toEpochMs(parsed) < Date.now() - BACKDATE_WINDOW_MS)
          ctx.addIssue({ code: "custom", message: `created_at can be at most ${BACKDATE_WINDOW_DAYS} days in the past.` });
      }),
  })
  .strict()
  .openapi("ActivityLogIngestEntry", {
    example: {
      scope: "FeatureFlag",
      activity: "updated",
      item_id: "42",
      detail: {
        name: "new-checkout",
        changes: [{ type: "FeatureFlag", action: "changed", field: "rollout_percentage", before: 10, after: 50 }],
      },
    },
  });
export type ActivityEntryInput = z.infer<typeof ActivityEntryInputSchema>;

const IngestBatchSchema = z
  .object({ entries: z.array(ActivityEntryInputSchema).min(1).max(MAX_INGEST_ENTRIES) })
  .strict()
  .openapi("ActivityLogIngestBatch");

/**
 * One entry, or `{entries: [...]}`. Validated as a whole before anything is stored; an error names
 * the entry (`entries__3__scope`) or, for a single entry, the field.
 */
export const IngestBodySchema = z
  .record(z.string(), z.unknown())
  .transform((body, ctx) => {
    const batch = "entries" in body;
    const result = (batch ? IngestBatchSchema : ActivityEntryInputSchema).safeParse(body);
    if (!result.success) {
      for (const issue of result.error.issues) ctx.addIssue({ ...issue, input: undefined } as Parameters<typeof ctx.addIssue>[0]);
      return z.NEVER;
    }
    return batch
      ? { batch: true, entries: (result.data as z.infer<typeof IngestBatchSchema>).entries }
      : { batch: false, entries: [result.data as ActivityEntryInput] };
  })
  .openapi({
    description: "One activity entry, or `{entries: [...]}` with up to 1000 entries.",
    anyOf: [{ $ref: "#/components/schemas/ActivityLogIngestEntry" }, { $ref: "#/components/schemas/ActivityLogIngestBatch" }],
  });
export type IngestBody = z.infer<typeof IngestBodySchema>;
export const ingestComponents = { ActivityLogIngestEntry: ActivityEntryInputSchema, ActivityLogIngestBatch: IngestBatchSchema };

type MemberUser = Pick<
  User,
  "id" | "uuid" | "distinctId" | "firstName" | "lastName" | "email" | "isEmailVerified" | "hedgehogConfig" | "roleAtOrganization"
>;

/** Resolves every `user` reference (id, uuid or email) to a member of the organization; 400 names the first unknown one. */
async function resolveUsers(db: D1Database, organizationId: string, entries: ActivityEntryInput[], batch: boolean) {
  const ids = new Set<number>();
  const texts = new Set<string>();
  for (const entry of entries) {
    if (typeof entry.user === "number") ids.add(entry.user);
    else if (typeof entry.user === "string") texts.add(entry.user.includes("@") ? entry.user.toLowerCase() : entry.user);
  }
  const found = new Map<string, MemberUser>();
  if (ids.size || texts.size) {
    const { results } = await db
      .prepare(
        `SELECT u.id, u.uuid, u.distinct_id, u.first_name, u.last_name, u.email, u.is_email_verified, u.hedgehog_config, u.role_at_organization
         FROM users AS u JOIN organization_memberships AS m ON m.user_id = u.id AND m.organization_id = ?1
         WHERE u.id IN (SELECT value FROM json_each(?2)) OR u.uuid IN (SELECT value FROM json_each(?3)) OR u.email IN (SELECT value FROM json_each(?3))`,
      )
      .bind(organizationId, JSON.stringify([...ids]), JSON.stringify([...texts]))
      .all<Record<string, any>>();
    for (const r of results) {
      const user: MemberUser = {
        id: r.id,
        uuid: r.uuid,
        distinctId: r.distinct_id,
        firstName: r.first_name,
        lastName: r.last_name,
        email: r.email,
        isEmailVerified: Boolean(r.is_email_verified),
        hedgehogConfig: r.hedgehog_config ? JSON.parse(r.hedgehog_config) : null,
        roleAtOrganization: r.role_at_organization,
      };
      found.set(String(r.id), user);
      found.set(r.uuid, user);
      found.set(r.email, user);
    }
  }
  return entries.map((entry, index) => {
    if (entry.user === undefined || entry.user === null) return null;
    const key = typeof entry.user === "string" && entry.user.includes("@") ? entry.user.toLowerCase() : String(entry.user);
    const user = found.get(key);
    if (!user) throw validationError("User is not a member of this organization.", batch ? `entries__${index}__user` : "user");
    return user;
  });
}

interface StoredAnswer {
  status: 201;
  body: unknown;
}

/**
 * Stores the entries as activity rows of the project through the one recording primitive (so they
 * are notified like any other row). With an `Idempotency-Key`, the first answer is kept for 24
 * hours and a replay returns it without storing anything.
 */
export async function ingestActivity(
  c: Context<AppBindings>,
  access: ProjectAccess,
  body: IngestBody,
): Promise<{ answer: StoredAnswer; replayed: boolean }> {
  const db = createDb(c.env.DB);
  const caller = c.var.auth.user;
  const idempotencyHeader = c.req.header("idempotency-key");
  if (idempotencyHeader !== undefined && (idempotencyHeader.length < 1 || idempotencyHeader.length > 255)) {
    throw validationError("Idempotency-Key must be 1 to 255 characters.", "Idempotency-Key");
  }
  const now = Date.now();
  const key = idempotencyHeader ? await sha256Hex(`${access.project.id}:${caller.id}:${idempotencyHeader}`) : null;
  const requestHash = key ? await sha256Hex(JSON.stringify(body)) : "";
  if (key) {
    const replay = await storedAnswer(db, key, requestHash, now);
    if (replay) return { answer: replay, replayed: true };
  }

  const users = await resolveUsers(c.env.DB, access.organization.id, body.entries, body.batch);
  const callerBasic: MemberUser = caller;
  const entries: ActivityEntry[] = [];
  // Sorted so that rows of one batch, which share a created_at, order by id as they were given.
  const ids = uuidv7s(body.entries.length, now);
  const results = body.entries.map((input, index) => {
    const user = input.user === null ? null : (users[index] ?? callerBasic);
    const id = ids[index]!;
    const createdAt = input.created_at ? toEpochMs(parseIsoDate(input.created_at)!) : now;
    const detail = withStandard((input.detail ?? {}) as ActivityDetail, input.standard);
    const itemId = input.item_id === undefined || input.item_id === null ? null : String(input.item_id);
    entries.push({
      id,
      organizationId: access.organization.id,
      teamId: access.project.id,
      scope: input.scope,
      activity: input.activity,
      itemId,
      detail,
      createdAt: new Date(createdAt),
      actor: { userId: user?.id ?? null, isSystem: false, wasImpersonated: input.was_impersonated ?? false },
    });
    return { id, user, input, itemId, detail, createdAt };
  });
  const ctx = writeContext(c, db);
  const single = results[0]!;
  const answer: StoredAnswer = {
    status: 201,
    body: body.batch
      ? { count: ids.length, ids }
      : {
          id: single.id,
          user: single.user ? serializeUserBasic(single.user as User) : null,
          unread: true,
          organization_id: access.organization.id,
          team_id: access.project.id,
          was_impersonated: single.input.was_impersonated ?? false,
          is_system: false,
          client: ctx.actor.client,
          ip_address: ctx.actor.ipAddress,
          activity: single.input.activity,
          item_id: single.itemId,
          scope: single.input.scope,
          detail: single.detail,
          created_at: iso(single.createdAt) as string,
          recorded_by: { user: serializeUserBasic(caller), api_key_id: c.var.auth.key.id },
          sequence: null,
          hash: null,
        },
  };

  const writes = key
    ? [
        db
          .delete(activityIngestKeys)
          .where(and(eq(activityIngestKeys.key, key), lte(activityIngestKeys.createdAt, new Date(now - IDEMPOTENCY_WINDOW_MS)))),
        db
          .insert(activityIngestKeys)
          .values({ key, requestHash, status: answer.status, response: JSON.stringify(answer.body), createdAt: new Date(now) }),
      ]
    : [];
  try {
    await commitWithActivity(ctx, writes, entries);
  } catch (error) {
    // A concurrent request with the same key committed first: answer as it did.
    const replay = key ? await storedAnswer(db, key, requestHash, now) : null;
    if (replay) return { answer: replay, replayed: true };
    throw error;
  }
  return { answer, replayed: false };
}

async function storedAnswer(db: ReturnType<typeof createDb>, key: string, requestHash: string, now: number): Promise<StoredAnswer | null> {
  const [stored] = await db
    .select()
    .from(activityIngestKeys)
    .where(and(eq(activityIngestKeys.key, key), gt(activityIngestKeys.createdAt, new Date(now - IDEMPOTENCY_WINDOW_MS))))
    .limit(1);
  if (!stored) return null;
  if (stored.requestHash !== requestHash) {
    throw conflict("idempotency_key_reused", "This Idempotency-Key was used with a different request body in the last 24 hours.");
  }
  return { status: 201, body: JSON.parse(stored.response) };
}
