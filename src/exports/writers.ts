import "./quiet-streams";
import { Writable } from "node:stream";
import WorkbookWriter from "exceljs/lib/stream/xlsx/workbook-writer.js";
import type { R2ChunkedWriter } from "./r2-chunked-writer";

export type ExportFormat = "csv" | "xlsx";
export type Cell = string | number | boolean | null;

/**
 * A column of an export. `date` cells are ISO 8601 strings (CSV keeps them whole, microseconds
 * included); XLSX writes them as date cells, `number` cells as numbers.
 */
export interface ExportColumn {
  name: string;
  type: "text" | "number" | "date";
}

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

// A spreadsheet runs a text cell starting with one of these as a formula (OWASP CSV injection; the
// full-width forms are normalised by Apple Numbers); the guard is a leading quote. Text that is a
// plain number is no formula and stays as it is, like number cells.
const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;
const PLAIN_NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;

export const guardFormula = (text: string) => (FORMULA_START.test(text) && !PLAIN_NUMBER.test(text) ? `'${text}` : text);

// Hand-written rather than csv-stringify: its sync API took 3x the time per row (60-75 ms against
// 18-24 ms per 1000 activity rows, Node 22, 2026-12-04), and a whole export runs in one queue
// consumer invocation, whose CPU time is capped (30 s by default).
function csvCell(value: Cell): string {
  if (value === null) return "";
  const text = typeof value === "string" ? guardFormula(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const csvRecord = (cells: Cell[]) => `${cells.map(csvCell).join(",")}\r\n`;

/**
 * RFC 4180 CSV (CRLF), page by page, after a UTF-8 byte order mark: without it Excel reads the file
 * in the local code page and garbles accented names.
 */
export function csvWriter(sink: R2ChunkedWriter, columns: ExportColumn[]): RowWriter {
  const encoder = new TextEncoder();
  let header = `\uFEFF${csvRecord(columns.map((column) => column.name))}`;
  return {
    async rows(rows) {
      await sink.write(encoder.encode(header + rows.map(csvRecord).join("")));
      header = "";
    },
    async finish() {
      if (header) await sink.write(encoder.encode(header));
    },
  };
}

const STREAM_HIGH_WATER = 1024 * 1024;
const DATE_FORMAT = "yyyy-mm-dd hh:mm:ss.000";
const MIN_WIDTH = 8;
const MAX_WIDTH = 60;
const DATE_WIDTH = 24;

/** A column's width in characters: its header and the first page's longest value, within bounds. */
function columnWidth(column: ExportColumn, index: number, firstPage: Cell[][]): number {
  if (column.type === "date") return DATE_WIDTH;
  const longest = firstPage.reduce((max, row) => Math.max(max, String(row[index] ?? "").length), column.name.length);
  return Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, longest + 2));
}

function xlsxCell(column: ExportColumn, value: Cell): Cell | Date {
  if (value === null || value === "") return null;
  if (column.type === "date" && typeof value === "string") return new Date(value);
  return value;
}

/**
 * XLSX through exceljs's streaming writer: typed cells (numbers, dates in UTC with a date format),
 * a frozen header row, column widths from the first page. Rows are committed as they come and
 * zipped into the sink.
 */
export function xlsxWriter(sink: R2ChunkedWriter, columns: ExportColumn[], sheetName: string): RowWriter {
  const stream = new Writable({
    highWaterMark: STREAM_HIGH_WATER,
    write(chunk: Uint8Array, _encoding, callback) {
      sink.write(chunk).then(() => callback(), callback);
    },
  });
  const workbook = new WorkbookWriter({ stream, useSharedStrings: false, useStyles: true });
  const sheet = workbook.addWorksheet(sheetName, { views: [{ state: "frozen", ySplit: 1 }] });
  let started = false;
  // Column widths go in the sheet before its first row, so the header waits for the first page.
  const start = (firstPage: Cell[][]) => {
    started = true;
    sheet.columns = columns.map((column, i) => ({
      header: column.name,
      width: columnWidth(column, i, firstPage),
      ...(column.type === "date" ? { style: { numFmt: DATE_FORMAT } } : {}),
    }));
    sheet.getRow(1).font = { bold: true };
    sheet.getRow(1).commit();
  };
  // exceljs writes a sheet's XML into the zip without waiting for it (its sheet stream ignores
  // backpressure), so the compressor's input queue is watched too: both are drained after every
  // page, which keeps buffered output bounded whatever the row count.
  const queues = () => [...((sheet as unknown as { stream?: { pipes?: Writable[] } }).stream?.pipes ?? []), stream];
  return {
    async rows(rows) {
      if (!started) start(rows);
      for (const row of rows) sheet.addRow(row.map((value, i) => xlsxCell(columns[i]!, value))).commit();
      for (const queue of queues()) {
        while (queue.writableLength > STREAM_HIGH_WATER) await new Promise<void>((resolve) => queue.once("drain", resolve));
      }
    },
    async finish() {
      if (!started) start([]);
      sheet.commit();
      await workbook.commit();
    },
  };
}
