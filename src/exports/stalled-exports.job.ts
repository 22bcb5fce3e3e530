import { and, eq, lt, or } from "drizzle-orm";
import { createDb } from "../db/client";
import { exportJobs } from "../db/schema";
import type { Env } from "../env";
import { PENDING_GRACE_MS, RUNNING_GRACE_MS } from "./exports.service";

/** Cron: puts stalled export jobs back on the queue. Idempotent: the consumer skips finished jobs. */
export async function requeueStalledExports(env: Env, now: number): Promise<number> {
  const db = createDb(env.DB);
  const stalled = await db
    .select({ id: exportJobs.id })
    .from(exportJobs)
    .where(
      or(
        and(eq(exportJobs.status, "pending"), lt(exportJobs.createdAt, new Date(now - PENDING_GRACE_MS))),
        and(eq(exportJobs.status, "running"), lt(exportJobs.startedAt, new Date(now - RUNNING_GRACE_MS))),
      ),
    )
    .limit(100);
  if (stalled.length) await env.EXPORTS_QUEUE.sendBatch(stalled.map((job) => ({ body: { exportId: job.id } })));
  return stalled.length;
}
