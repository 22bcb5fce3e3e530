import { createDb } from "../db/client";
import type { Cell, ExportColumn, ExportProducer } from "../exports";
import { validationError } from "../lib/errors";
import { countLogsCompiled } from "./count.queries";
import { compileFilters } from "./filters";
import { listLogs, MAX_EXPORTABLE_LOGS, type SerializedLog } from "./list.queries";
import type { LogsFilters } from "./logs.schemas";

export const LOGS_EXPORT_COLUMNS = [
  "timestamp",
  "observed_timestamp",
  "level",
  "severity_number",
  "service_name",
  "body",
  "trace_id",
  "span_id",
  "event_name",
  "instrumentation_scope",
  "attributes",
  "resource_attributes",
] as const;
type Column = (typeof LOGS_EXPORT_COLUMNS)[number];

/** What a logs export stores as its job's `filters`: the query with its range fixed when it was requested. */
export interface LogsExportFilters {
  projectId: number;
  fromUs: number;
  toUs: number;
  orderBy: "latest" | "earliest";
  filters: Pick<LogsFilters, "severityLevels" | "serviceNames" | "searchTerm" | "filterGroup">;
  columns: Column[];
}

const PAGE_SIZE = 1000;

const COLUMN_TYPES: Partial<Record<Column, ExportColumn["type"]>> = {
  timestamp: "date",
  observed_timestamp: "date",
  severity_number: "number",
};

/** The requested columns, in the order asked for; every one must be a known column. */
export function exportColumns(requested: string[] | undefined): Column[] {
  if (!requested?.length) return [...LOGS_EXPORT_COLUMNS];
  return requested.map((column, i) => {
    if (!(LOGS_EXPORT_COLUMNS as readonly string[]).includes(column)) {
      throw validationError(`Unknown column "${column}"; use any of ${LOGS_EXPORT_COLUMNS.join(", ")}.`, `columns__${i}`);
    }
    return column as Column;
  });
}

function cell(log: SerializedLog, column: Column): Cell {
  switch (column) {
    case "attributes":
    case "resource_attributes":
      return JSON.stringify(log[column]);
    case "trace_id":
    case "span_id":
      return log[column] ?? "";
    default:
      return log[column];
  }
}

/** The `logs` export kind: at most MAX_EXPORTABLE_LOGS rows of a logs query, as PostHog caps it. */
export const logsExportSource: ExportProducer = async (env, job) => {
  const stored = job.filters as unknown as LogsExportFilters;
  const db = createDb(env.DB);
  const compiled = compileFilters(stored.filters, "query");
  return {
    columns: stored.columns.map((name) => ({ name, type: COLUMN_TYPES[name] ?? "text" })),
    sheetName: "Logs",
    count: async () => Math.min(MAX_EXPORTABLE_LOGS, await countLogsCompiled(db, stored.projectId, compiled, stored.fromUs, stored.toUs)),
    async *pages() {
      let after: string | undefined;
      let written = 0;
      while (written < MAX_EXPORTABLE_LOGS) {
        const page = await listLogs(db, stored.projectId, compiled, {
          fromUs: stored.fromUs,
          toUs: stored.toUs,
          orderBy: stored.orderBy,
          limit: Math.min(PAGE_SIZE, MAX_EXPORTABLE_LOGS - written),
          after,
          attrPrefix: "query",
        });
        if (page.results.length) yield page.results.map((log) => stored.columns.map((column) => cell(log, column)));
        written += page.results.length;
        if (!page.hasMore || !page.nextCursor) return;
        after = page.nextCursor;
      }
    },
  };
};
