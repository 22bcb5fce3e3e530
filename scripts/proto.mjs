// `npm run proto:generate`: regenerates src/logs/gen/ (the OTLP logs messages, TypeScript from
// protoc-gen-es) from the vendored proto/ files with `buf generate` (buf.gen.yaml). `--check` (part
// of `npm run lint`) generates into a temporary folder instead and fails when the committed files
// differ. Both tools are devDependencies run from node_modules/.bin: nothing is fetched.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const GEN = join("src", "logs", "gen");
const BIN = join(ROOT, "node_modules", ".bin");
const check = process.argv.includes("--check");

function generate(outputBase) {
  const result = spawnSync(join(BIN, "buf"), ["generate", "--output", outputBase], {
    cwd: ROOT,
    // protoc-gen-es (a local plugin in buf.gen.yaml) is found on PATH.
    env: { ...process.env, PATH: `${BIN}${delimiter}${process.env.PATH ?? ""}` },
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (result.status !== 0) {
    console.error(`buf generate failed (${result.error?.message ?? `exit ${result.status}`})`);
    process.exit(1);
  }
}

/** Every file under `dir`, relative to it, with its text. */
function files(dir) {
  const out = new Map();
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.set(relative(dir, path), readFileSync(path, "utf8"));
    }
  };
  try {
    walk(dir);
  } catch {
    // a missing folder has no files
  }
  return out;
}

if (!check) {
  generate(ROOT);
  console.log(`wrote ${GEN}/`);
} else {
  const tmp = mkdtempSync(join(tmpdir(), "proto-"));
  try {
    generate(tmp);
    const fresh = files(join(tmp, GEN));
    const committed = files(join(ROOT, GEN));
    const stale = [...new Set([...fresh.keys(), ...committed.keys()])].filter((f) => fresh.get(f) !== committed.get(f)).sort();
    if (stale.length) {
      console.error(`${GEN} is stale: ${stale.join(", ")} differ from \`buf generate\` of proto/. Run \`npm run proto:generate\`.`);
      process.exit(1);
    }
    console.log(`${GEN} matches proto/ (${fresh.size} files)`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
