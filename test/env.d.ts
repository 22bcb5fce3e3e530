import type { Env as AppEnv } from "../src/env";

declare global {
  namespace Cloudflare {
    interface Env extends AppEnv {
      TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
      /** vitest.config.ts's `ratelimits` (JSON): the limits the tests run with. */
      TEST_RATE_LIMITS: string;
    }
    interface GlobalProps {
      mainModule: typeof import("../src");
    }
  }
}
