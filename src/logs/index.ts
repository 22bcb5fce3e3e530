// The public face of this domain: what other modules and the entry points may import.
export { parseDate, parseIsoMicros } from "./dates";
export { type CompiledFilters, compileFilters } from "./filters";
export { forgetProjectToken } from "./ingest";
export { logsIngestRouter } from "./ingest.router";
export { logsExportSource } from "./logs.export";
export { countLogs, type LogsFilterInput, listLogs, MAX_REGEX_SCAN } from "./logs.queries";
export { runDailyLogsRetention } from "./logs.retention";
export { logsRouter } from "./logs.router";
export { LogsFiltersSchema } from "./logs.schemas";
