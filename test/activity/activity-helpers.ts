import { env } from "cloudflare:workers";
import { type AppScope, commitWithActivity } from "../../src/audit/record";
import { sealAllShards } from "../../src/audit/sequencer";
import { uuidv7s } from "../../src/lib/ids";
import { call, db, type Tenant } from "../helpers";

/** Records entries through the ingest endpoint; fails the test on anything but a 201. */
export async function ingest(
  tenant: Tenant,
  entries: Record<string, unknown>[],
  headers: Record<string, string> = {},
  projectId = tenant.projectId,
) {
  const res = await call(`/api/projects/${projectId}/activity_log/`, { key: tenant.key, body: { entries }, headers });
  if (res.status !== 201) throw new Error(`ingest failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { count: number; ids: string[] };
}

export interface SeedEntry {
  scope: string;
  activity: string;
  item_id?: string | null;
  detail?: Record<string, unknown>;
  /** A user id; default the tenant's user, none for a system row. */
  user?: number | null;
  was_impersonated?: boolean;
  is_system?: boolean;
  created_at?: string;
}

/**
 * Fixture rows for the read side, written through the service's own write path: ingest refuses
 * dates beyond its backdating window and system rows, which filter and retention tests need.
 * `headers` give the rows' client and IP address, as a request's would. Rows have no `recorded_by`.
 */
export async function seedActivity(
  tenant: Tenant,
  entries: SeedEntry[],
  headers: Record<string, string> = {},
  projectId = tenant.projectId,
) {
  const project = await env.DB.prepare("SELECT organization_id FROM projects WHERE id = ?1")
    .bind(projectId)
    .first<{ organization_id: string }>();
  const header = (name: string) => Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1] ?? null;
  const published: Promise<unknown>[] = [];
  const ids = uuidv7s(entries.length);
  await commitWithActivity(
    {
      db: db(),
      env,
      actor: {
        userId: tenant.userId,
        isSystem: false,
        wasImpersonated: false,
        client: header("x-posthog-client"),
        ipAddress: header("cf-connecting-ip"),
        recordedBy: null,
      },
      waitUntil: (promise) => published.push(promise),
    },
    [],
    entries.map((entry, i) => ({
      id: ids[i],
      organizationId: project!.organization_id,
      teamId: projectId,
      scope: entry.scope as AppScope,
      activity: entry.activity,
      itemId: entry.item_id ?? null,
      detail: entry.detail ?? {},
      createdAt: entry.created_at ? new Date(entry.created_at) : undefined,
      actor: {
        userId: entry.user === null ? null : (entry.user ?? (entry.is_system ? null : tenant.userId)),
        isSystem: entry.is_system ?? false,
        wasImpersonated: entry.was_impersonated ?? false,
      },
    })),
  );
  await Promise.all(published);
  return { count: ids.length, ids };
}

export const flagChange = (field: string, before: unknown, after: unknown) => ({
  type: "FeatureFlag",
  action: "changed",
  field,
  before,
  after,
});

/** Every page of a cursor-paginated list, following `next`. */
export async function allPages(path: string, key: string) {
  const rows: any[] = [];
  let next: string | null = path;
  let pages = 0;
  while (next) {
    const res: { status: number; body: any } = await call(next.replace(/^https?:\/\/[^/]+/, ""), { key });
    if (res.status !== 200) throw new Error(`page failed: ${res.status} ${JSON.stringify(res.body)}`);
    rows.push(...res.body.results);
    next = res.body.next;
    if (++pages > 100) throw new Error("too many pages");
  }
  return rows;
}

/** Polls an export until it is complete or failed. */
export async function waitForExport(path: string, key: string) {
  for (let i = 0; i < 200; i++) {
    const res = await call(path, { key });
    if (res.status !== 200) throw new Error(`export status failed: ${res.status} ${JSON.stringify(res.body)}`);
    if (res.body.status === "complete" || res.body.status === "failed") return res.body;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("export did not finish");
}

const DAY = 86_400_000;

/**
 * An organization whose history starts in the past: its row and activity rows (`[item_id, days ago]`,
 * in commit order) written straight into D1, as rows recorded long ago would be. Sealed on return.
 */
export async function organizationWithHistory(history: [string, number][], retentionDays: number | null = 365): Promise<string> {
  const id = crypto.randomUUID();
  const now = Date.now();
  const statements: D1PreparedStatement[] = [];
  if (retentionDays !== null) {
    statements.push(
      env.DB.prepare(
        "INSERT INTO organizations (id, name, slug, activity_log_retention_days, created_at, updated_at) VALUES (?1, ?1, ?1, ?2, ?3, ?3)",
      ).bind(id, retentionDays, now),
    );
  }
  statements.push(
    env.DB.prepare(
      `INSERT INTO activity_log (id, organization_id, activity, scope, item_id, detail, created_at)
       SELECT value ->> 0, ?1, 'x', 'H', value ->> 1, '{"name":"old"}', value ->> 2 FROM json_each(?2)`,
    ).bind(id, JSON.stringify(history.map(([item, days]) => [crypto.randomUUID(), item, now - days * DAY]))),
  );
  await env.DB.batch(statements);
  await sealAllShards(env);
  return id;
}
