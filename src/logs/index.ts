// The public face of this domain: what other modules and the entry points may import.

export { countLogs } from "./count.queries";
export { parseDate, parseIsoMicros } from "./dates";
export { type CompiledFilters, compileFilters } from "./filters";
export { forgetProjectToken } from "./ingest.handlers";
export { logsIngestRouter } from "./ingest.router";
export { listLogs } from "./list.queries";
export { logsExportSource } from "./logs.export";
export { logsRouter } from "./logs.router";
export { LogsFiltersSchema } from "./logs.schemas";
export { runDailyLogsRetention } from "./retention.job";
export { type LogsFilterInput, MAX_REGEX_SCAN } from "./scan.queries";
