// The streaming writer alone: the package entry also loads the readers and their zip libraries.
declare module "exceljs/lib/stream/xlsx/workbook-writer.js" {
  import type { stream } from "exceljs";
  const WorkbookWriter: typeof stream.xlsx.WorkbookWriter;
  export default WorkbookWriter;
}

// The part of Node's stream module (nodejs_compat) the XLSX writer hands to exceljs.
declare module "node:stream" {
  export class Writable {
    constructor(options: {
      highWaterMark?: number;
      write(chunk: Uint8Array, encoding: string, callback: (error?: Error | null) => void): void;
    });
    readonly writableLength: number;
    once(event: "drain", listener: () => void): this;
  }
}

declare module "node:util" {
  const util: { debuglog: (section: string) => ((...args: unknown[]) => void) & { enabled: boolean } };
  export default util;
}
