import { createRoute, z } from "@hono/zod-openapi";
import { and, count, desc, eq, inArray } from "drizzle-orm";
import { type ActivityEntry, commitWithActivity, createdChange, deletedChange, diffChanges, writeContext } from "../activity/record";
import { approvalGateResponses } from "../approvals/approvals.schemas";
import { approvalGate } from "../approvals/gate";
import { changeIntent } from "../approvals/registry";
import { ALL_SCOPES } from "../auth/scopes";
import { createDb } from "../db/client";
import { organizationMemberships, personalApiKeys, projects } from "../db/schema";
import { notFound, validationError } from "../lib/errors";
import { errorResponses, json, jsonBody, secured } from "../lib/openapi";
import { LimitOffsetQuery, limitOffsetPage, paginated } from "../lib/pagination";
import { createRouter } from "../lib/router";
import { newPersonalApiKey, serializePersonalApiKey } from "./personal-api-keys.queries";

const SCOPE = "PersonalAPIKey";

const PersonalApiKeySchema = z
  .object({
    id: z.string(),
    label: z.string(),
    mask_value: z.string(),
    scopes: z.array(z.string()),
    scoped_organizations: z.array(z.string()),
    scoped_teams: z.array(z.number().int()),
    created_at: z.string(),
    last_used_at: z.string().nullable(),
    last_rolled_at: z.string().nullable(),
  })
  .openapi("PersonalAPIKey");

const CreatedKeySchema = PersonalApiKeySchema.extend({
  value: z.string().openapi({ description: "The key itself (`phx_...`), shown only in this response." }),
}).openapi("PersonalAPIKeyCreated");

const KeyWriteSchema = z.object({
  label: z.string().trim().min(1).max(40),
  scopes: z
    .array(z.string().refine((s) => ALL_SCOPES.includes(s), { message: "Invalid scope." }))
    .min(1)
    .openapi({ example: ["activity_log:read"] }),
  scoped_organizations: z.array(z.string().uuid()).nullable().optional(),
  scoped_teams: z.array(z.number().int()).nullable().optional(),
});
export const KeyCreateSchema = KeyWriteSchema.strict().openapi("PersonalAPIKeyCreate");
const KeyUpdateSchema = KeyWriteSchema.partial().strict().openapi("PersonalAPIKeyUpdate");
const KeyParams = z.object({ key_id: z.string().openapi({ param: { name: "key_id", in: "path" } }) });

const tags = ["personal api keys"];
const base = "/api/personal_api_keys";

const listKeys = createRoute({
  method: "get",
  path: base,
  tags,
  summary: "List your personal API keys (values are never shown again)",
  ...secured("personal_api_key:read"),
  request: { query: LimitOffsetQuery },
  responses: { 200: json(paginated(PersonalApiKeySchema), "Keys"), ...errorResponses },
});
const createKey = createRoute({
  method: "post",
  path: base,
  tags,
  summary: "Create a personal API key; the value is in this response only",
  ...secured("personal_api_key:write"),
  request: { body: jsonBody(KeyCreateSchema) },
  responses: { 201: json(CreatedKeySchema, "Key with its value"), ...errorResponses, ...approvalGateResponses },
});
const getKey = createRoute({
  method: "get",
  path: `${base}/{key_id}`,
  tags,
  summary: "Retrieve one of your keys",
  ...secured("personal_api_key:read"),
  request: { params: KeyParams },
  responses: { 200: json(PersonalApiKeySchema, "Key"), ...errorResponses },
});
const updateKey = createRoute({
  method: "patch",
  path: `${base}/{key_id}`,
  tags,
  summary: "Change a key's label, scopes or restrictions",
  ...secured("personal_api_key:write"),
  request: { params: KeyParams, body: jsonBody(KeyUpdateSchema) },
  responses: { 200: json(PersonalApiKeySchema, "Key"), ...errorResponses },
});
const deleteKey = createRoute({
  method: "delete",
  path: `${base}/{key_id}`,
  tags,
  summary: "Revoke a key",
  ...secured("personal_api_key:write"),
  request: { params: KeyParams },
  responses: { 204: { description: "Revoked" }, ...errorResponses },
});

type Db = ReturnType<typeof createDb>;

/** Restrictions may only name organizations and projects the user can reach. */
export async function validateRestrictions(db: Db, userId: number, body: z.infer<typeof KeyUpdateSchema>) {
  const orgIds = body.scoped_organizations ?? [];
  const teamIds = body.scoped_teams ?? [];
  const [orgs, teams] = await Promise.all([
    orgIds.length
      ? db
          .select({ id: organizationMemberships.organizationId })
          .from(organizationMemberships)
          .where(and(eq(organizationMemberships.userId, userId), inArray(organizationMemberships.organizationId, orgIds)))
      : Promise.resolve([]),
    teamIds.length
      ? db
          .select({ id: projects.id })
          .from(projects)
          .innerJoin(organizationMemberships, eq(organizationMemberships.organizationId, projects.organizationId))
          .where(and(eq(organizationMemberships.userId, userId), inArray(projects.id, teamIds)))
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
async function keyActivities(db: Db, userId: number, entry: Omit<ActivityEntry, "organizationId">) {
  const orgs = await db
    .select({ id: organizationMemberships.organizationId })
    .from(organizationMemberships)
    .where(eq(organizationMemberships.userId, userId));
  return orgs.map((o) => ({ ...entry, organizationId: o.id }));
}

type NewKeyRow = Awaited<ReturnType<typeof newPersonalApiKey>>["row"];

/** A new key's insert and activity rows; the approval apply of a gated `*` key reuses it. */
export async function planPersonalApiKeyCreate(db: Db, userId: number, row: NewKeyRow) {
  const stored = { ...row, userId, lastUsedAt: null, lastRolledAt: null };
  const entries = await keyActivities(db, userId, {
    scope: SCOPE,
    activity: "created",
    itemId: row.id,
    detail: { name: row.label, changes: createdChange(SCOPE, { ...auditedFields(stored), value: "masked" }) },
  });
  return { stored, writes: [db.insert(personalApiKeys).values(row)], entries };
}

/** The organizations a key reaches: its scoped organizations, its scoped projects' ones, or all of the user's. */
async function reachableOrganizations(db: Db, userId: number, body: z.infer<typeof KeyUpdateSchema>) {
  if (body.scoped_organizations?.length) return body.scoped_organizations;
  const rows = body.scoped_teams?.length
    ? await db.selectDistinct({ id: projects.organizationId }).from(projects).where(inArray(projects.id, body.scoped_teams))
    : await db
        .select({ id: organizationMemberships.organizationId })
        .from(organizationMemberships)
        .where(eq(organizationMemberships.userId, userId));
  return rows.map((r) => r.id);
}

async function findKey(db: Db, userId: number, keyId: string) {
  const [key] = await db
    .select()
    .from(personalApiKeys)
    .where(and(eq(personalApiKeys.id, keyId), eq(personalApiKeys.userId, userId)));
  if (!key) throw notFound();
  return key;
}

const auditedFields = (key: { label: string; scopes: string[]; scopedOrganizations: string[] | null; scopedTeams: number[] | null }) => ({
  label: key.label,
  scopes: key.scopes,
  scoped_organizations: key.scopedOrganizations ?? [],
  scoped_teams: key.scopedTeams ?? [],
});

export const personalApiKeysRouter = createRouter()
  .openapi(listKeys, async (c) => {
    const db = createDb(c.env.DB);
    const page = c.req.valid("query");
    const mine = eq(personalApiKeys.userId, c.var.auth.user.id);
    const [rows, [total]] = await Promise.all([
      db.select().from(personalApiKeys).where(mine).orderBy(desc(personalApiKeys.createdAt)).limit(page.limit).offset(page.offset),
      db.select({ n: count() }).from(personalApiKeys).where(mine),
    ]);
    return c.json(limitOffsetPage(c.req.url, page, total?.n ?? 0, rows.map(serializePersonalApiKey)), 200);
  })
  .openapi(createKey, async (c) => {
    const db = createDb(c.env.DB);
    const body = c.req.valid("json");
    await validateRestrictions(db, c.var.auth.user.id, body);
    const { row, value } = await newPersonalApiKey({
      userId: c.var.auth.user.id,
      label: body.label,
      scopes: body.scopes,
      scopedOrganizations: body.scoped_organizations,
      scopedTeams: body.scoped_teams,
    });
    const plan = await planPersonalApiKeyCreate(db, c.var.auth.user.id, row);
    if (body.scopes.includes("*")) {
      // The key is created when the request is applied; its value is shown now, to its owner only.
      await approvalGate(c, {
        actionKey: "personal_api_key.create",
        targets: (await reachableOrganizations(db, c.var.auth.user.id, body)).map((organizationId) => ({ organizationId, teamId: null })),
        resourceId: null,
        intent: changeIntent({
          name: body.label,
          before: {},
          after: { scopes: body.scopes },
          request: body,
          preconditions: {},
          method: "POST",
        }),
        privateData: { id: row.id, secure_value: row.secureValue, mask_value: row.maskValue },
        responseExtra: { pending_personal_api_key: { ...serializePersonalApiKey(plan.stored), value } },
      });
    }
    await commitWithActivity(writeContext(c, db), plan.writes, plan.entries);
    return c.json({ ...serializePersonalApiKey(plan.stored), value }, 201);
  })
  .openapi(getKey, async (c) => {
    const key = await findKey(createDb(c.env.DB), c.var.auth.user.id, c.req.valid("param").key_id);
    return c.json(serializePersonalApiKey(key), 200);
  })
  .openapi(updateKey, async (c) => {
    const db = createDb(c.env.DB);
    const body = c.req.valid("json");
    const key = await findKey(db, c.var.auth.user.id, c.req.valid("param").key_id);
    await validateRestrictions(db, c.var.auth.user.id, body);
    const updated = {
      ...key,
      label: body.label ?? key.label,
      scopes: body.scopes ?? key.scopes,
      scopedOrganizations: body.scoped_organizations === undefined ? key.scopedOrganizations : body.scoped_organizations,
      scopedTeams: body.scoped_teams === undefined ? key.scopedTeams : body.scoped_teams,
    };
    const changes = diffChanges(SCOPE, auditedFields(key), auditedFields(updated));
    if (changes.length) {
      await commitWithActivity(
        writeContext(c, db),
        [
          db
            .update(personalApiKeys)
            .set({
              label: updated.label,
              scopes: updated.scopes,
              scopedOrganizations: updated.scopedOrganizations,
              scopedTeams: updated.scopedTeams,
            })
            .where(eq(personalApiKeys.id, key.id)),
        ],
        await keyActivities(db, c.var.auth.user.id, {
          scope: SCOPE,
          activity: "updated",
          itemId: key.id,
          detail: { name: updated.label, changes },
        }),
      );
    }
    return c.json(serializePersonalApiKey(updated), 200);
  })
  .openapi(deleteKey, async (c) => {
    const db = createDb(c.env.DB);
    const key = await findKey(db, c.var.auth.user.id, c.req.valid("param").key_id);
    await commitWithActivity(
      writeContext(c, db),
      [db.delete(personalApiKeys).where(eq(personalApiKeys.id, key.id))],
      await keyActivities(db, c.var.auth.user.id, {
        scope: SCOPE,
        activity: "deleted",
        itemId: key.id,
        detail: { name: key.label, changes: deletedChange(SCOPE) },
      }),
    );
    return c.body(null, 204);
  });
