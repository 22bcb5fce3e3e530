import { commitWithActivity, createdChange, type WriteContext } from "../audit/record";
import { exportJobs } from "../db/schema";
import { uuidv7 } from "../lib/ids";
import type { ExportKind } from "./exports.types";
import type { ExportFormat } from "./writers";

export const EXPORT_SCOPE = "ExportedAsset";

/**
 * How long an export's file is kept after the export completes. Then the cron deletes it and the
 * job becomes `expired` (`expired-exports.job.ts`); its download answers 410.
 */
export const EXPORT_LIFETIME_DAYS = 7;
export const EXPORT_LIFETIME_MS = EXPORT_LIFETIME_DAYS * 86_400_000;

/** Every export file's R2 key starts with this (`exports/<organization>/<job>/<filename>`). */
export const EXPORT_OBJECT_PREFIX = "exports/";

/** When a completed export's file is (or was) deleted; null before it completes. */
export const exportExpiresAt = (job: { completedAt: Date | null; status: string }) =>
  job.completedAt && (job.status === "complete" || job.status === "expired")
    ? new Date(job.completedAt.getTime() + EXPORT_LIFETIME_MS)
    : null;

export interface ExportRequest {
  organizationId: string;
  /** Null for an organization-wide export. */
  teamId: number | null;
  kind: ExportKind;
  format: ExportFormat;
  /** Everything the kind's producer needs to rebuild the query (JSON). */
  filters: Record<string, unknown>;
  filename: string;
}

/** Records the export job (with its activity row) and queues it; the consumer writes the file. */
export async function startExport(ctx: WriteContext, request: ExportRequest, createdById: number): Promise<string> {
  const id = uuidv7();
  await commitWithActivity(
    ctx,
    [
      ctx.db.insert(exportJobs).values({
        id,
        organizationId: request.organizationId,
        teamId: request.teamId,
        kind: request.kind,
        format: request.format,
        filters: request.filters,
        filename: request.filename,
        status: "pending",
        createdById,
        createdAt: new Date(),
      }),
    ],
    [
      {
        organizationId: request.organizationId,
        teamId: request.teamId,
        scope: EXPORT_SCOPE,
        activity: "created",
        itemId: id,
        detail: {
          name: request.filename,
          changes: createdChange(EXPORT_SCOPE, { kind: request.kind, format: request.format }),
          context: { kind: request.kind, format: request.format, filters: request.filters },
        },
      },
    ],
  );
  await ctx.env.EXPORTS_QUEUE.send({ exportId: id });
  return id;
}

/** A job pending this long was never picked up (a lost send); a running one this long lost its consumer. */
export const PENDING_GRACE_MS = 5 * 60_000;
export const RUNNING_GRACE_MS = 30 * 60_000;
