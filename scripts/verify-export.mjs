// Verifies an activity export (CSV or XLSX) against a signed checkpoint without the server:
//   npm run verify-export -- export.csv --checkpoint cp.json --public-key key.json
//   npm run verify-export -- export.xlsx --checkpoint cp.json --public-key key.json
// cp.json is one checkpoint as GET /api/organizations/:id/activity_log/checkpoints/ lists it (or
// as a destination received it); key.json is GET /api/activity_log/public_key/. Each row is
// recomputed with the fields its `hash_version` covers (2: recorded_by included). Exit code 0 only
// when the export's chain reproduces the signed hash.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parse } from "csv-parse/sync";
import ExcelJS from "exceljs";
import { verifyExportRows, xlsxRecords } from "../src/lib/chain-hash.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { checkpoint: { type: "string" }, "public-key": { type: "string" } },
});
const [file] = positionals;
if (!file || !values.checkpoint || !values["public-key"]) {
  console.error("usage: npm run verify-export -- <export.csv|export.xlsx> --checkpoint cp.json --public-key key.json");
  process.exit(2);
}
const bytes = readFileSync(file);
// An XLSX file is a zip: it starts with "PK\x03\x04".
const isXlsx = bytes.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
let records;
if (isXlsx) {
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(bytes);
  const sheet = workbook.worksheets[0];
  const rows = [];
  // exceljs's row values are 1-based (index 0 is empty).
  sheet?.eachRow({ includeEmpty: false }, (row) => rows.push(row.values.slice(1)));
  records = xlsxRecords(rows);
} else {
  records = parse(bytes.toString("utf8"), { columns: true, bom: true, skip_empty_lines: true });
}
const checkpoint = JSON.parse(readFileSync(values.checkpoint, "utf8"));
const publicKey = JSON.parse(readFileSync(values["public-key"], "utf8"));
// CSV cells carry the formula guard (a leading quote); XLSX cells are written as they are.
const result = await verifyExportRows(records, checkpoint, publicKey, { formulaGuarded: !isXlsx });
console.log(JSON.stringify({ format: isXlsx ? "xlsx" : "csv", ...result }, null, 2));
process.exit(result.verified ? 0 : 1);
