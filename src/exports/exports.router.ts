import { and, eq, isNull } from "drizzle-orm";
import type { Context } from "hono";
import { organizationAccess, projectAccess } from "../auth/access";
import type { AppBindings } from "../auth/context";
import { MembershipLevel } from "../auth/levels";
import { createDb } from "../db/client";
import { exportJobs } from "../db/schema";
import { createRouter } from "../http/router";
import { ApiError, conflict, notFound } from "../lib/errors";
import { iso, isoRequired } from "../lib/time";
import { getOrganizationExport, getOrganizationExportContent, getProjectExport, getProjectExportContent } from "./exports.routes";
import { EXPORT_LIFETIME_DAYS, exportExpiresAt } from "./exports.service";
import type { ExportJobRow } from "./exports.types";
import { CONTENT_TYPES, type ExportFormat } from "./writers";

export function serializeExport(job: ExportJobRow) {
  const format = job.format as ExportFormat;
  return {
    id: job.id,
    kind: job.kind,
    format,
    export_format: CONTENT_TYPES[format],
    status: job.status as "pending" | "running" | "complete" | "failed" | "expired",
    has_content: job.status === "complete",
    filename: job.filename,
    progress: {
      rows_written: job.rowsWritten,
      total_rows: job.totalRows,
      percent: job.totalRows
        ? Math.min(100, Math.round((job.rowsWritten / job.totalRows) * 1000) / 10)
        : job.status === "complete"
          ? 100
          : null,
    },
    size_bytes: job.sizeBytes,
    filters: job.filters,
    attempts: job.attempts,
    exception: job.exception,
    created_at: isoRequired(job.createdAt),
    started_at: iso(job.startedAt),
    completed_at: iso(job.completedAt),
    expires_after: iso(exportExpiresAt(job)),
  };
}

/** Exports are private to the user who requested them: anyone else gets a 404. */
async function projectJob(c: Context<AppBindings>, projectId: string, id: string) {
  const { project } = await projectAccess(c, projectId);
  const [job] = await createDb(c.env.DB)
    .select()
    .from(exportJobs)
    .where(and(eq(exportJobs.id, id), eq(exportJobs.teamId, project.id), eq(exportJobs.createdById, c.var.auth.user.id)))
    .limit(1);
  if (!job) throw notFound();
  return job;
}

async function organizationJob(c: Context<AppBindings>, organizationId: string, id: string) {
  const { organization } = await organizationAccess(c, organizationId, MembershipLevel.admin);
  const [job] = await createDb(c.env.DB)
    .select()
    .from(exportJobs)
    .where(
      and(
        eq(exportJobs.id, id),
        eq(exportJobs.organizationId, organization.id),
        isNull(exportJobs.teamId),
        eq(exportJobs.createdById, c.var.auth.user.id),
      ),
    )
    .limit(1);
  if (!job) throw notFound();
  return job;
}

/** 410: the file outlived its lifetime and was deleted (the job stays, `expired`). */
function exportExpired(job: ExportJobRow) {
  const expiresAt = exportExpiresAt(job);
  const deleted = expiresAt && expiresAt.getTime() <= Date.now() ? expiresAt : null;
  return new ApiError(
    410,
    "invalid_request",
    "export_expired",
    `This export's file was deleted${deleted ? ` on ${deleted.toISOString()}` : ""}: files are kept ${EXPORT_LIFETIME_DAYS} days after the export completes. Start a new export.`,
  );
}

async function download(c: Context<AppBindings>, job: ExportJobRow): Promise<Response> {
  if (job.status === "expired") throw exportExpired(job);
  if (job.status !== "complete" || !job.r2Key) {
    throw conflict(
      "export_not_ready",
      job.status === "failed" ? `This export failed: ${job.exception ?? "unknown error"}` : `This export is ${job.status}.`,
    );
  }
  const object = await c.env.EXPORTS_BUCKET.get(job.r2Key);
  // Gone before the sweep marked the job (an R2 lifecycle rule, or the sweep between its two steps).
  if (!object) throw exportExpired(job);
  return new Response(object.body, {
    headers: {
      "content-type": CONTENT_TYPES[job.format as ExportFormat],
      "content-disposition": `attachment; filename="${job.filename}"`,
      "content-length": String(object.size),
    },
  });
}

export const exportsRouter = createRouter()
  .openapi(getProjectExport, async (c) => {
    const { project_id, id } = c.req.valid("param");
    return c.json(serializeExport(await projectJob(c, project_id, id)), 200);
  })
  .openapi(getProjectExportContent, async (c) => {
    const { project_id, id } = c.req.valid("param");
    return download(c, await projectJob(c, project_id, id)) as never;
  })
  .openapi(getOrganizationExport, async (c) => {
    const { organization_id, id } = c.req.valid("param");
    return c.json(serializeExport(await organizationJob(c, organization_id, id)), 200);
  })
  .openapi(getOrganizationExportContent, async (c) => {
    const { organization_id, id } = c.req.valid("param");
    return download(c, await organizationJob(c, organization_id, id)) as never;
  });
