// The public face of this domain: what other modules and the entry points may import.

export { expireExports, runDailyStrayExportFiles } from "./expired-exports.job";
export { consumeExports } from "./exports.consumer";
export { exportsRouter } from "./exports.router";
export { startExport } from "./exports.service";
export type { ExportProducer, ExportProducers } from "./exports.types";
export { requeueStalledExports } from "./stalled-exports.job";
export type { Cell, ExportColumn } from "./writers";
