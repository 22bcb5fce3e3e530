import "./quiet-streams";
import { Writable } from "node:stream";
import WorkbookWriter from "exceljs/lib/stream/xlsx/workbook-writer.js";
import type { R2ChunkedWriter } from "./r2-chunked-writer";

export type ExportFormat = "csv" | "xlsx";
export type Cell = string | number | boolean | null;

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: "text/csv",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
};

/** Excel's sheet limit (1,048,576 rows) minus the header. */
export const XLSX_MAX_ROWS = 1_048_575;

export interface RowWriter {
  rows(rows: Cell[][]): Promise<void>;
  finish(): Promise<void>;
}

// A spreadsheet runs a cell starting with one of these as a formula; OWASP's guard is a leading quote.
const FORMULA_START = /^[=+\-@\t\r]/;

function csvCell(value: Cell): string {
  if (value === null) return "";
  let text = String(value);
  if (typeof value === "string" && FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** RFC 4180 CSV with a header row, encoded page by page. */
export function csvWriter(sink: R2ChunkedWriter, columns: string[]): RowWriter {
  const encoder = new TextEncoder();
  let header = `${columns.map(csvCell).join(",")}\r\n`;
  return {
    async rows(rows) {
      const text = header + rows.map((row) => `${row.map(csvCell).join(",")}\r\n`).join("");
      header = "";
      await sink.write(encoder.encode(text));
    },
    async finish() {
      if (header) await sink.write(encoder.encode(header));
    },
  };
}

const STREAM_HIGH_WATER = 1024 * 1024;

/** XLSX through exceljs's streaming writer: rows are committed as they come and zipped into the sink. */
export function xlsxWriter(sink: R2ChunkedWriter, columns: string[], sheetName: string): RowWriter {
  const stream = new Writable({
    highWaterMark: STREAM_HIGH_WATER,
    write(chunk: Uint8Array, _encoding, callback) {
      sink.write(chunk).then(() => callback(), callback);
    },
  });
  const workbook = new WorkbookWriter({ stream, useSharedStrings: false, useStyles: false });
  const sheet = workbook.addWorksheet(sheetName);
  sheet.addRow(columns).commit();
  // exceljs writes a sheet's XML into the zip without waiting for it (its sheet stream ignores
  // backpressure), so the compressor's input queue is watched too: both are drained after every
  // page, which keeps buffered output bounded whatever the row count.
  const queues = () => [...((sheet as unknown as { stream?: { pipes?: Writable[] } }).stream?.pipes ?? []), stream];
  return {
    async rows(rows) {
      for (const row of rows) sheet.addRow(row).commit();
      for (const queue of queues()) {
        while (queue.writableLength > STREAM_HIGH_WATER) await new Promise<void>((resolve) => queue.once("drain", resolve));
      }
    },
    async finish() {
      sheet.commit();
      await workbook.commit();
    },
  };
}
