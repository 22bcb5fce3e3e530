import { activityExportSource } from "../activity/activity.export";
import { logsExportSource } from "../logs/logs.export";
import type { ExportProducer } from "./exports.types";

/**
 * Every export kind and the function producing its rows. A new kind (e.g. `logs`) adds its
 * producer here and calls `startExport` with that kind; the queue consumer, the R2 writing,
 * the status and download routes are shared.
 */
export const EXPORT_KINDS = {
  activity_log: activityExportSource,
  logs: logsExportSource,
} satisfies Record<string, ExportProducer>;

export type ExportKind = keyof typeof EXPORT_KINDS;
