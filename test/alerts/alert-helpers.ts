import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { floorMinute } from "../../src/alerts/alerts.queries";
import { commitChecks } from "../../src/alerts/check-writes";
import { alertStub, type LogsAlertObject } from "../../src/alerts/logs-alert.object";
import { logsAlerts } from "../../src/db/schema";
import { call, db, type Tenant } from "../helpers";

export const MINUTE = 60_000;
/** A minute boundary well after anything the tests create, so controlled windows never collide with real time. */
export const T0 = floorMinute(Date.now()) + 60 * MINUTE;

export const alertsPath = (tenant: Tenant) => `/api/projects/${tenant.projectId}/logs/alerts`;

export async function createAlert(tenant: Tenant, body: Record<string, unknown> = {}) {
  const res = await call(`${alertsPath(tenant)}/`, { key: tenant.key, body: { filters: { severityLevels: ["error"] }, ...body } });
  if (res.status !== 201) throw new Error(`alert create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function alertRow(id: string) {
  const [row] = await db().select().from(logsAlerts).where(eq(logsAlerts.id, id));
  return row!;
}

export const alertObject = (id: string) => alertStub(env, id);

/**
 * One check of the window ending at `windowEnd`, driven inside the alert's Durable Object with a
 * controlled count (a number) or query failure (an Error), against the row as the chunk consumer
 * reads it, then committed to D1 as the consumer commits it. A check whose write no longer applies is "stale".
 */
export async function runCheck(id: string, windowEnd: number, outcome: number | Error, snapshot?: Awaited<ReturnType<typeof alertRow>>) {
  const alert = snapshot ?? (await alertRow(id));
  const result = await runInDurableObject(alertObject(id), (instance: LogsAlertObject) =>
    instance.check({
      windowEnd,
      alert,
      outcome: outcome instanceof Error ? { ok: false, error: outcome.message } : { ok: true, count: outcome },
      queryDurationMs: 1,
    }),
  );
  if (result.status !== "checked" && result.status !== "skipped") return result;
  const { applied, published } = await commitChecks(env, result.writes, result.status === "skipped" ? [result.reschedule] : []);
  if (result.status === "skipped") return { status: result.status, reason: result.reason };
  if (!applied.at(-1)) return { status: "stale" as const };
  return { status: result.status, state: result.state, notification: result.notification, published };
}

/** Rows of the object's own storage (`machine`, `checks`, `unconfirmed`). */
export function objectRows(id: string, query: string) {
  return runInDurableObject(alertObject(id), async (_instance: LogsAlertObject, state) => state.storage.sql.exec(query).toArray());
}

export async function events(tenant: Tenant, id: string) {
  const res = await call(`${alertsPath(tenant)}/${id}/events/?limit=100`, { key: tenant.key });
  return res.body.results as Record<string, any>[];
}
