// `npm run bench [suite ...]`: runs every bench/<suite>.bench.mjs (or the named ones) in turn.
import { readdirSync } from "node:fs";
import { resolve } from "node:path";
import * as ctx from "./lib.mjs";

const dir = import.meta.dirname;
const wanted = process.argv.slice(2);
const suites = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.mjs"))
  .map((f) => f.replace(".bench.mjs", ""))
  .filter((name) => !wanted.length || wanted.includes(name))
  .sort();

console.log(`# Benchmarks (${new Date().toISOString()}, node ${process.version}, suites: ${suites.join(", ") || "none"})`);
let failed = 0;
for (const name of suites) {
  console.log(`\n# ${name}`);
  const started = performance.now();
  try {
    const suite = await import(resolve(dir, `${name}.bench.mjs`));
    await suite.run(ctx);
  } catch (error) {
    failed++;
    console.error(`suite ${name} failed:`, error);
  }
  console.log(`(${name}: ${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
process.exit(failed ? 1 : 0);
