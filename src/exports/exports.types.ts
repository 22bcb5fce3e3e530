import type { exportJobs } from "../db/schema";
import type { Env } from "../env";
import type { Cell, ExportColumn } from "./writers";

export type ExportJobRow = typeof exportJobs.$inferSelect;

/** The kinds of export; each has a producer in `src/export-kinds.ts`. */
export type ExportKind = "activity_log" | "logs";

/** What an export kind produces: the header and the rows, page by page (never all at once). */
export interface ExportSource {
  columns: ExportColumn[];
  sheetName: string;
  count(): Promise<number>;
  pages(): AsyncIterable<Cell[][]>;
}

/** Builds the source of one export job from its stored `filters`. */
export type ExportProducer = (env: Env, job: ExportJobRow) => Promise<ExportSource>;

export type ExportProducers = Record<ExportKind, ExportProducer>;
