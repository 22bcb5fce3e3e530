import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// The tests' own limits (wrangler.toml has the deployed ones); counters are per test file. High enough
// that no test file comes near them (the busiest key makes about 100 requests; tests sign up without
// CF-Connecting-IP, so a file's signups share one counter), low enough that test/http/rate-limit.test.ts
// fills a counter in a second. The period stays wrangler.toml's: a 429's Retry-After reports it.
const TEST_RATE_LIMITS = {
  API_RATE_LIMITER: { namespace_id: "1801", simple: { limit: 300, period: 60 as const } },
  SIGNUP_RATE_LIMITER: { namespace_id: "1802", simple: { limit: 100, period: 60 as const } },
  INGEST_RATE_LIMITER: { namespace_id: "1803", simple: { limit: 300, period: 60 as const } },
};

export default defineConfig(async () => ({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        ratelimits: TEST_RATE_LIMITS,
        bindings: {
          TEST_RATE_LIMITS: JSON.stringify(TEST_RATE_LIMITS),
          TEST_MIGRATIONS: await readD1Migrations("./migrations"),
          ALLOW_LOOPBACK_DESTINATIONS: "false",
          ALLOW_OPEN_FIRST_SIGNUP: "true",
          SECRETS_ENCRYPTION_KEY: "dGVzdC1vbmx5LXNlY3JldC1lbmNyeXB0aW9uLWtleSE=",
          // A test-only Ed25519 key for the activity chain's signed checkpoints.
          AUDIT_SIGNING_KEY: JSON.stringify({
            kty: "OKP",
            crv: "Ed25519",
            x: "VBPMR47i3qTaymfnO_BRsjL3UNxit15Vqdj5C6QMWmI",
            d: "rbZa7UMFPr5Vn0FoMx0CqMWS0oXKSaNkivRCe1kt3sM",
          }),
        },
      },
    }),
  ],
  resolve: {
    // exceljs (XLSX exports) require()s uuid, whose worker build is ESM; the test runner loads
    // require()d files as CommonJS, so point it at uuid's CommonJS build (wrangler's bundler copes).
    alias: { uuid: new URL("./node_modules/uuid/dist/index.js", import.meta.url).pathname },
  },
  test: {
    setupFiles: ["./test/apply-migrations.ts"],
    include: ["test/**/*.test.ts"],
    // The per-request info lines (src/lib/log.ts) would bury the runner's output; warnings and
    // errors still show. test/app/operations.test.ts reads the lines through its own console spy.
    onConsoleLog: (line: string) => !line.startsWith('{"level":"info"'),
  },
}));
