// `npm run test:readme`: runs README.md's shell examples, as written, against a fresh `npm start`
// (a free port, an empty state folder) and fails on the first command or HTTP request that fails.
// A block preceded by `<!-- test:readme skip: why -->` is left out.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");

/** The README's ```sh blocks, except the skipped ones. */
export function readmeExamples(markdown) {
  const blocks = [];
  const fence = /(<!-- test:readme skip:[^>]*-->\s*\n)?```(?:sh|bash|shell)\n([\s\S]*?)```/g;
  for (const match of markdown.matchAll(fence)) if (!match[1]) blocks.push(match[2]);
  return blocks;
}

const freePort = () =>
  new Promise((done, fail) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
    server.on("error", fail);
  });

async function waitFor(url, child, deadline) {
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${url} did not answer in time`);
}

/**
 * The OpenTelemetry Node SDK configured only by OTEL_EXPORTER_OTLP_ENDPOINT / _HEADERS (docs/logs.md):
 * its records must arrive through `/v1/logs`. (The Worker tests run the exporters' browser builds,
 * which do not read the environment.)
 */
async function otlpByEnvironment(base, signup) {
  const service = `readme-otel-env-${Date.now()}`;
  const emit = `
    import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-proto";
    import { resourceFromAttributes } from "@opentelemetry/resources";
    import { LoggerProvider, SimpleLogRecordProcessor } from "@opentelemetry/sdk-logs";
    const provider = new LoggerProvider({
      resource: resourceFromAttributes({ "service.name": "${service}" }),
      processors: [new SimpleLogRecordProcessor({ exporter: new OTLPLogExporter() })],
    });
    provider.getLogger("readme").emit({ severityNumber: 17, severityText: "ERROR", body: "configured by the environment" });
    await provider.forceFlush();
    await provider.shutdown();`;
  console.log("\n# OpenTelemetry Node SDK configured by OTEL_EXPORTER_OTLP_ENDPOINT alone");
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", emit], {
    cwd: ROOT,
    env: {
      ...process.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: base,
      OTEL_EXPORTER_OTLP_HEADERS: `Authorization=Bearer ${signup.project.api_token}`,
    },
    stdio: "inherit",
  });
  if (result.status !== 0) return false;
  const res = await fetch(`${base}/api/projects/${signup.project.id}/logs/query/`, {
    method: "POST",
    headers: { authorization: `Bearer ${signup.personal_api_key.value}`, "content-type": "application/json" },
    body: JSON.stringify({ query: { serviceNames: [service] } }),
  });
  const body = await res.json();
  const ok = res.ok && body.results.length === 1 && body.results[0].body === "configured by the environment";
  console.log(ok ? "stored and read back through logs/query/" : `not stored: ${res.status} ${JSON.stringify(body)}`);
  return ok;
}

const blocks = readmeExamples(readFileSync(join(ROOT, "README.md"), "utf8"));
if (!blocks.length) throw new Error("README.md has no shell example to run");

const port = await freePort();
const work = mkdtempSync(join(tmpdir(), "readme-examples-"));
const state = join(work, "state");
// `npm start` in its own process group, so that stopping the group stops wrangler and workerd with
// it, whenever it happens.
const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ["npm"];
const server = spawn(npm[0], [...npm.slice(1), "start"], {
  cwd: ROOT,
  detached: true,
  env: { ...process.env, PORT: String(port), PERSIST_TO: state },
  stdio: ["ignore", "ignore", "pipe"],
});
let serverLog = "";
server.stderr.on("data", (chunk) => {
  serverLog = (serverLog + chunk).slice(-8000);
});
let failed = false;
try {
  await waitFor(`http://127.0.0.1:${port}/healthz`, server, Date.now() + 240_000);
  // One shell for all the blocks, as a reader's terminal (exports carry over), in a scratch folder
  // for the files the examples write; every curl fails on an HTTP error status.
  const script = [
    "set -euo pipefail",
    'curl() { command curl --fail-with-body "$@"; }',
    ...blocks.map((block, i) => `echo; echo "# README example ${i + 1} of ${blocks.length}"; set -x\n${block}set +x`),
  ].join("\n");
  const result = spawnSync("bash", ["-c", script], { cwd: work, env: { ...process.env, PORT: String(port) }, stdio: "inherit" });
  failed = result.status !== 0;
  if (!failed) failed = !(await otlpByEnvironment(`http://127.0.0.1:${port}`, JSON.parse(readFileSync(join(work, "signup.json"), "utf8"))));
} finally {
  const exited = new Promise((done) => (server.exitCode !== null ? done() : server.once("exit", done)));
  process.kill(-server.pid, "SIGTERM");
  await exited;
  rmSync(work, { recursive: true, force: true });
}
if (failed) {
  console.error(`\nA README example failed (above). The server's last output:\n${serverLog}`);
  process.exit(1);
}
console.log(`\n${blocks.length} README examples passed`);
