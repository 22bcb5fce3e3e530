import { commitWithActivity, writeContext } from "../audit/record";
import { organizationAccess } from "../auth/access";
import { MembershipLevel } from "../auth/levels";
import { createDb } from "../db/client";
import { personalApiKeys } from "../db/schema";
import { createRouter } from "../http/router";
import { createViewerToken, listViewerTokens, revokeViewerToken } from "./viewer-tokens.routes";
import { listViewerTokens as listTokens, planViewerToken, planViewerTokenRevoke, serializeViewerToken } from "./viewer-tokens.service";

export const viewerTokensRouter = createRouter()
  .openapi(createViewerToken, async (c) => {
    const { id } = c.req.valid("param");
    await organizationAccess(c, id, MembershipLevel.admin);
    const db = createDb(c.env.DB);
    const { row, token, entry } = await planViewerToken(c.var.auth, id, c.req.valid("json"));
    await commitWithActivity(writeContext(c, db), [db.insert(personalApiKeys).values(row)], [entry]);
    const url = `${new URL(c.req.url).origin}/app/#token=${token}`;
    return c.json({ ...serializeViewerToken(row, c.var.auth.user), token, url }, 201);
  })
  .openapi(listViewerTokens, async (c) => {
    const { id } = c.req.valid("param");
    await organizationAccess(c, id, MembershipLevel.admin);
    const rows = await listTokens(createDb(c.env.DB), id);
    return c.json({ results: rows.map(({ token, creator }) => serializeViewerToken(token, creator)) }, 200);
  })
  .openapi(revokeViewerToken, async (c) => {
    const { id, token_id } = c.req.valid("param");
    await organizationAccess(c, id, MembershipLevel.admin);
    const db = createDb(c.env.DB);
    const { write, entry } = await planViewerTokenRevoke(db, id, token_id);
    await commitWithActivity(writeContext(c, db), [write], [entry]);
    return c.body(null, 204);
  });
