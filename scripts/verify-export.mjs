// Verifies an activity export (CSV) against a signed checkpoint without the server:
//   npm run verify-export -- export.csv --checkpoint cp.json --public-key key.json
// cp.json is one checkpoint as GET /api/organizations/:id/activity_log/checkpoints/ lists it (or
// as a destination received it); key.json is GET /api/activity_log/public_key/. Exit code 0 only
// when the export's chain reproduces the signed hash.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parse } from "csv-parse/sync";
import { verifyExportRows } from "../src/lib/chain-hash.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { checkpoint: { type: "string" }, "public-key": { type: "string" } },
});
const [file] = positionals;
if (!file || !values.checkpoint || !values["public-key"]) {
  console.error("usage: npm run verify-export -- export.csv --checkpoint cp.json --public-key key.json");
  process.exit(2);
}
const records = parse(readFileSync(file, "utf8"), { columns: true, bom: true, skip_empty_lines: true });
const checkpoint = JSON.parse(readFileSync(values.checkpoint, "utf8"));
const publicKey = JSON.parse(readFileSync(values["public-key"], "utf8"));
const result = await verifyExportRows(records, checkpoint, publicKey);
console.log(JSON.stringify(result, null, 2));
process.exit(result.verified ? 0 : 1);
