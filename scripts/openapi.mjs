// `npm run client:generate`: fetches the OpenAPI document the Worker serves (wrangler runs it locally,
// in-process) and writes it with the TypeScript types openapi-typescript generates from it into
// clients/typescript/. `--check` (part of `npm run lint`) writes nothing and fails when the
// committed files differ from a fresh generation.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

process.env.WRANGLER_SEND_METRICS = "false";
// No fetch of the `Request.cf` placeholder: nothing may need the internet.
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
const { unstable_startWorker } = await import("wrangler");
const { default: openapiTS, astToString, COMMENT_HEADER } = await import("openapi-typescript");

const ROOT = resolve(import.meta.dirname, "..");
const OUT = join(ROOT, "clients", "typescript");
// The origin of `npm start`, written into `servers`; the served document names the origin it was fetched from.
const ORIGIN = "http://127.0.0.1:8787";
const check = process.argv.includes("--check");

async function servedDocument() {
  const worker = await unstable_startWorker({
    config: join(ROOT, "wrangler.toml"),
    dev: { server: { hostname: "127.0.0.1", port: 0 }, inspector: false, watch: false, persist: false, logLevel: "error" },
  });
  try {
    await worker.ready;
    const res = await worker.fetch(`${ORIGIN}/api/schema/`);
    if (!res.ok) throw new Error(`GET /api/schema/ answered ${res.status}`);
    return await res.json();
  } finally {
    await worker.dispose();
  }
}

const document = await servedDocument();
const documentText = `${JSON.stringify(document, null, 2)}\n`;
// Request fields with a `default` stay optional (openapi-typescript's default makes them required
// everywhere but in inline request bodies); response fields are required by the document itself.
const types = COMMENT_HEADER + astToString(await openapiTS(document, { defaultNonNullable: false, silent: true }));

const files = { "openapi.json": documentText, "schema.d.ts": types };
if (check) {
  const stale = Object.entries(files).filter(([name, text]) => {
    let committed = "";
    try {
      committed = readFileSync(join(OUT, name), "utf8");
    } catch {
      // missing counts as stale
    }
    return committed !== text;
  });
  if (stale.length) {
    const dir = mkdtempSync(join(tmpdir(), "openapi-"));
    for (const [name, text] of stale) writeFileSync(join(dir, name), text);
    console.error(
      `clients/typescript is stale: ${stale.map(([n]) => n).join(", ")} differ from the served document ` +
        `(fresh copies in ${dir}; \`diff -u clients/typescript/<file> ${dir}/<file>\`). Run \`npm run client:generate\`.`,
    );
    process.exit(1);
  }
  console.log("clients/typescript matches the served OpenAPI document");
} else {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(OUT, name), text);
  console.log(
    `wrote ${Object.keys(files)
      .map((n) => `clients/typescript/${n}`)
      .join(", ")}`,
  );
}
