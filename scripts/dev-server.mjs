// Starts `wrangler dev` with local D1 / Durable Objects / Queues / R2 and waits until it answers.
// Shared by `npm start` and the benchmarks.
import { spawn, spawnSync } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const WRANGLER = join(ROOT, "node_modules", ".bin", "wrangler");
// No metrics and no fetch of the `Request.cf` placeholder: nothing may need the internet.
const ENV = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };

/**
 * Local secrets live in `.dev.vars` (git-ignored), which wrangler dev reads. The first run creates a
 * random SECRETS_ENCRYPTION_KEY there and later runs keep it, so sealed webhook secrets stay readable;
 * likewise a dev Ed25519 AUDIT_SIGNING_KEY, so signed checkpoints keep verifying with one public key.
 */
export function ensureDevVars() {
  const file = join(ROOT, ".dev.vars");
  if (!existsSync(file)) writeFileSync(file, `SECRETS_ENCRYPTION_KEY=${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
  if (!/^AUDIT_SIGNING_KEY=/m.test(readFileSync(file, "utf8"))) {
    const jwk = JSON.stringify(generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" }));
    appendFileSync(file, `AUDIT_SIGNING_KEY='${jwk}'\n`);
  }
}

/** Applies the D1 migrations to the local database under `persistTo`. */
export function applyLocalMigrations(persistTo) {
  const args = ["d1", "migrations", "apply", "DB", "--local"];
  if (persistTo) args.push("--persist-to", persistTo);
  const result = spawnSync(WRANGLER, args, { cwd: ROOT, env: { ...ENV, CI: "true" }, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  if (result.status !== 0) throw new Error(`migrations failed:\n${result.stdout}\n${result.stderr}`);
}

/** The SQLite file behind the local D1 database (for bulk seeding and raw-SQL comparisons). */
export function localD1File(persistTo = join(ROOT, ".wrangler", "state")) {
  const dir = join(persistTo, "v3", "d1", "miniflare-D1DatabaseObject");
  if (!existsSync(dir)) return null;
  const file = readdirSync(dir).find((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite");
  return file ? join(dir, file) : null;
}

/**
 * Runs `wrangler dev` on 127.0.0.1:`port` and resolves once `readyPath` (`/api/schema/`) answers.
 * `config` runs another Worker than the app (a benchmark's floor Worker); `inspectorPort` opens
 * workerd's V8 inspector there (profiles); `localObservability: false` turns wrangler's local trace
 * collection off. Returns `{ url, child, stop() }`.
 */
export async function startDevServer({
  port = 8787,
  persistTo,
  vars = {},
  quiet = false,
  config,
  readyPath = "/api/schema/",
  inspectorPort,
  localObservability = true,
} = {}) {
  ensureDevVars();
  const args = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--show-interactive-dev-session=false"];
  // Another Worker on the same local state (the benchmarks' floor Workers, bench/floor/).
  if (config) args.push("--config", config);
  if (inspectorPort) args.push("--inspector-port", String(inspectorPort));
  if (persistTo) args.push("--persist-to", persistTo);
  // A local instance keeps the open first signup; a deployed one needs BOOTSTRAP_TOKEN (wrangler.toml).
  for (const [name, value] of Object.entries({ ALLOW_OPEN_FIRST_SIGNUP: "true", ...vars })) args.push("--var", `${name}:${value}`);
  // wrangler's local observability tails every invocation into a trace store in the same workerd:
  // benchmarks turn it off, as it is not part of what a deployed Worker spends.
  const env = localObservability ? ENV : { ...ENV, X_LOCAL_OBSERVABILITY: "false" };
  const child = spawn(WRANGLER, args, { cwd: ROOT, env, stdio: ["ignore", quiet ? "ignore" : "inherit", quiet ? "pipe" : "inherit"] });
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${stderr}`);
    try {
      const res = await fetch(`${url}${readyPath}`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  if (Date.now() >= deadline) {
    child.kill("SIGTERM");
    throw new Error(`wrangler dev did not answer within 90 s:\n${stderr}`);
  }
  return {
    url,
    child,
    stop: () =>
      new Promise((done) => {
        if (child.exitCode !== null) return done();
        child.once("exit", () => done());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 5000).unref();
      }),
  };
}

/** Fires the Worker's scheduled handler once, as the Cron Trigger would. */
export async function triggerScheduled(url, scheduledTime = Date.now()) {
  const res = await fetch(`${url}/cdn-cgi/local/scheduled?cron=${encodeURIComponent("* * * * *")}&time=${scheduledTime}`);
  return res.status;
}
