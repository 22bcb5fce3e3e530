import { and, eq, lt, or, sql } from "drizzle-orm";
import { commitWithActivity, diffChanges, SYSTEM_ACTOR, type WriteContext } from "../audit/record";
import { createDb } from "../db/client";
import { exportJobs } from "../db/schema";
import type { Env } from "../env";
import { log } from "../lib/log";
import type { ExportMessage } from "../lib/messages";
import { EXPORT_OBJECT_PREFIX, EXPORT_SCOPE, RUNNING_GRACE_MS } from "./exports.service";
import type { ExportJobRow, ExportKind, ExportProducers } from "./exports.types";
import { R2ChunkedWriter } from "./r2-chunked-writer";
import { CONTENT_TYPES, csvWriter, type ExportFormat, type RowWriter, XLSX_MAX_ROWS, xlsxWriter } from "./writers";

/** Attempts before a job is marked failed (the queue's max_retries is 3: four deliveries). */
export const MAX_EXPORT_ATTEMPTS = 4;
/** Progress is written every this many rows. */
const PROGRESS_EVERY = 10_000;

export const exportObjectKey = (job: Pick<ExportJobRow, "organizationId" | "id" | "filename">) =>
  `${EXPORT_OBJECT_PREFIX}${job.organizationId}/${job.id}/${job.filename}`;

function systemContext(env: Env): WriteContext {
  const db = createDb(env.DB);
  return { db, env, actor: SYSTEM_ACTOR, waitUntil: () => {} };
}

/** Records a job's final state with its activity row (system actor). */
async function finishJob(env: Env, job: ExportJobRow, values: Partial<ExportJobRow>, activity: string) {
  const ctx = systemContext(env);
  const fields = Object.keys(values);
  await commitWithActivity(
    ctx,
    [ctx.db.update(exportJobs).set(values).where(eq(exportJobs.id, job.id))],
    [
      {
        organizationId: job.organizationId,
        teamId: job.teamId,
        scope: EXPORT_SCOPE,
        activity,
        itemId: job.id,
        detail: {
          name: job.filename,
          changes: diffChanges(EXPORT_SCOPE, job as unknown as Record<string, unknown>, { ...job, ...values }, { fields }),
        },
      },
    ],
  );
}

/**
 * Writes one export: the kind's producer yields pages of rows, the format's writer turns them into
 * bytes, and the R2 writer uploads them part by part. Memory holds one page and one part.
 */
export async function runExport(env: Env, exportId: string, producers: ExportProducers): Promise<void> {
  const db = createDb(env.DB);
  const startedAt = new Date();
  // Claim the job: a duplicate delivery, or a second consumer, finds it taken and does nothing.
  // A job left `running` by a consumer that died can be claimed again after RUNNING_GRACE_MS.
  const [job] = await db
    .update(exportJobs)
    .set({ status: "running", startedAt, attempts: sql`${exportJobs.attempts} + 1`, rowsWritten: 0 })
    .where(
      and(
        eq(exportJobs.id, exportId),
        or(
          eq(exportJobs.status, "pending"),
          and(eq(exportJobs.status, "running"), lt(exportJobs.startedAt, new Date(startedAt.getTime() - RUNNING_GRACE_MS))),
        ),
      ),
    )
    .returning();
  if (!job) return;

  const producer = producers[job.kind as ExportKind] as ExportProducers[ExportKind] | undefined;
  if (!producer) throw new ExportRefused(`Unknown export kind "${job.kind}".`);
  const source = await producer(env, job);
  const format = job.format as ExportFormat;
  const total = await source.count();
  if (format === "xlsx" && total > XLSX_MAX_ROWS) {
    throw new ExportRefused(`An XLSX sheet holds at most ${XLSX_MAX_ROWS} rows and this export has ${total}; use CSV.`);
  }
  await db.update(exportJobs).set({ totalRows: total }).where(eq(exportJobs.id, job.id));

  const sink = new R2ChunkedWriter(env.EXPORTS_BUCKET, exportObjectKey(job), {
    contentType: CONTENT_TYPES[format],
    contentDisposition: `attachment; filename="${job.filename}"`,
  });
  const writer: RowWriter = format === "csv" ? csvWriter(sink, source.columns) : xlsxWriter(sink, source.columns, source.sheetName);
  let written = 0;
  let reported = 0;
  try {
    for await (const rows of source.pages()) {
      await writer.rows(rows);
      written += rows.length;
      if (written - reported >= PROGRESS_EVERY) {
        reported = written;
        await db.update(exportJobs).set({ rowsWritten: written }).where(eq(exportJobs.id, job.id));
      }
    }
    await writer.finish();
    await sink.close();
  } catch (error) {
    await sink.abort();
    throw error;
  }
  await finishJob(
    env,
    job,
    { status: "complete", rowsWritten: written, totalRows: written, sizeBytes: sink.size, r2Key: sink.key, completedAt: new Date() },
    "exported",
  );
}

/** A job that can never succeed: failed at once instead of retried. */
export class ExportRefused extends Error {}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 1000);

/**
 * The exports queue: one job per message. A failure is recorded on the job (`exception`) and
 * retried with backoff; after the last attempt, or for a refused job, the job is `failed`.
 */
export async function consumeExports(batch: MessageBatch<ExportMessage>, env: Env, producers: ExportProducers): Promise<void> {
  const db = createDb(env.DB);
  for (const message of batch.messages) {
    try {
      await runExport(env, message.body.exportId, producers);
      message.ack();
    } catch (error) {
      log("error", "export failed", { export_id: message.body.exportId, error });
      const [job] = await db.select().from(exportJobs).where(eq(exportJobs.id, message.body.exportId)).limit(1);
      if (!job) {
        message.ack();
        continue;
      }
      if (error instanceof ExportRefused || message.attempts >= MAX_EXPORT_ATTEMPTS) {
        await finishJob(env, job, { status: "failed", exception: errorText(error), completedAt: new Date() }, "export_failed");
        message.ack();
      } else {
        await db
          .update(exportJobs)
          .set({ status: "pending", exception: errorText(error) })
          .where(eq(exportJobs.id, job.id));
        message.retry({ delaySeconds: 10 * 2 ** (message.attempts - 1) });
      }
    }
  }
}
