import { activityExportSource } from "./activity";
import type { ExportProducers } from "./exports";
import { logsExportSource } from "./logs";

/**
 * Every export kind and the function producing its rows. A new kind adds its producer here and
 * calls `startExport` with that kind; the queue consumer, the R2 writing, the status and download
 * routes are shared.
 */
export const EXPORT_PRODUCERS: ExportProducers = {
  activity_log: activityExportSource,
  logs: logsExportSource,
};
