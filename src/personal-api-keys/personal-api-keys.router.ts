import { and, count, desc, eq } from "drizzle-orm";
import { approvalGate, changeIntent } from "../approvals";
import { commitWithActivity, deletedChange, writeContext } from "../audit/record";
import { createDb } from "../db/client";
import { personalApiKeys } from "../db/schema";
import { createRouter } from "../http/router";
import { limitOffsetPage } from "../lib/pagination";
import { newPersonalApiKey, serializePersonalApiKey } from "./personal-api-keys.queries";
import { createKey, deleteKey, getKey, listKeys, updateKey } from "./personal-api-keys.routes";
import {
  assertWithinHolder,
  findKey,
  grantPreconditions,
  keyActivities,
  planPersonalApiKeyCreate,
  planPersonalApiKeyUpdate,
  reachableOrganizations,
  SCOPE,
  validateRestrictions,
  widensToAll,
} from "./personal-api-keys.service";

export const personalApiKeysRouter = createRouter()
  .openapi(listKeys, async (c) => {
    const db = createDb(c.env.DB);
    const page = c.req.valid("query");
    const mine = and(eq(personalApiKeys.userId, c.var.auth.user.id), eq(personalApiKeys.kind, "personal"));
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
    await assertWithinHolder(db, c.var.auth.key, {
      scopes: body.scopes,
      scopedOrganizations: body.scoped_organizations ?? null,
      scopedTeams: body.scoped_teams ?? null,
    });
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
    const { updated, writes, entries } = await planPersonalApiKeyUpdate(db, c.var.auth.user.id, key, body);
    // A label is all a key may change on a key wider than itself.
    if (Object.keys(body).some((field) => field !== "label")) await assertWithinHolder(db, c.var.auth.key, updated);
    if (await widensToAll(db, key, updated)) {
      await approvalGate(c, {
        actionKey: "personal_api_key.create",
        targets: (
          await reachableOrganizations(db, c.var.auth.user.id, {
            scoped_organizations: updated.scopedOrganizations,
            scoped_teams: updated.scopedTeams,
          })
        ).map((organizationId) => ({ organizationId, teamId: null })),
        resourceId: key.id,
        intent: changeIntent({
          name: key.label,
          before: grantPreconditions(key),
          after: grantPreconditions(updated),
          request: body,
          preconditions: grantPreconditions(key),
          method: "PATCH",
        }),
      });
    }
    if (writes.length) await commitWithActivity(writeContext(c, db), writes, entries);
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
