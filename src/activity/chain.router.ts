import { organizationAccess } from "../auth/access";
import { MembershipLevel } from "../auth/levels";
import { createRouter } from "../http/router";
import { ApiError } from "../lib/errors";
import { limitOffsetPage } from "../lib/pagination";
import { iso } from "../lib/time";
import { verifyChain } from "./chain";
import { listCheckpointsRoute, publicKeyRoute, verifyChainRoute } from "./chain.routes";
import { signingKey } from "./checkpoints.job";

/** Rows recomputed per verify request: bounded work, about 100 requests for a million rows. */
export const VERIFY_PAGE_ROWS = 10_000;

interface CheckpointRow {
  id: string;
  kind: "signed" | "retention";
  organization_id: string;
  sequence: number;
  hash: string;
  created_at: number;
  key_id: string | null;
  signature: string | null;
}

export const chainRouter = createRouter()
  .openapi(verifyChainRoute, async (c) => {
    const { organization } = await organizationAccess(c, c.req.valid("param").organization_id, MembershipLevel.admin);
    const { from_sequence, to_sequence } = c.req.valid("query");
    const { next_from_sequence, ...result } = await verifyChain(
      c.env.DB,
      organization.id,
      { from: from_sequence, to: to_sequence },
      VERIFY_PAGE_ROWS,
    );
    let next: string | null = null;
    if (next_from_sequence !== null) {
      const url = new URL(c.req.url);
      url.searchParams.set("from_sequence", String(next_from_sequence));
      next = url.toString();
    }
    return c.json({ ...result, next }, 200);
  })
  .openapi(listCheckpointsRoute, async (c) => {
    const { organization } = await organizationAccess(c, c.req.valid("param").organization_id, MembershipLevel.admin);
    const page = c.req.valid("query");
    const [rows, count] = await c.env.DB.batch([
      c.env.DB.prepare(
        `SELECT id, kind, organization_id, sequence, hash, created_at, key_id, signature FROM activity_chain_checkpoints
         WHERE organization_id = ?1 ORDER BY sequence DESC, kind LIMIT ?2 OFFSET ?3`,
      ).bind(organization.id, page.limit, page.offset),
      c.env.DB.prepare("SELECT count(*) AS n FROM activity_chain_checkpoints WHERE organization_id = ?1").bind(organization.id),
    ]);
    const results = ((rows?.results ?? []) as CheckpointRow[]).map((row) => ({
      ...row,
      created_at: iso(row.created_at) as string,
      signed_at: row.kind === "signed" ? (iso(row.created_at) as string) : null,
    }));
    return c.json(limitOffsetPage(c.req.url, page, Number((count?.results[0] as { n: number } | undefined)?.n ?? 0), results), 200);
  })
  .openapi(publicKeyRoute, async (c) => {
    const key = signingKey(c.env);
    if (!key) throw new ApiError(404, "invalid_request", "not_found", "No signing key is configured.");
    return c.json((await key).publicJwk, 200);
  });
