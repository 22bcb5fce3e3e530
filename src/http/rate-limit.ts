import type { Context } from "hono";
import type { AppBindings } from "../auth/context";
import type { Env } from "../env";
import { throttled } from "../lib/errors";

/**
 * The Workers Rate Limiting bindings (`[[ratelimits]]` in wrangler.toml), by what they count:
 * `API_RATE_LIMITER` requests per personal API key (viewer links included), after authentication;
 * `SIGNUP_RATE_LIMITER` signups per client IP; `INGEST_RATE_LIMITER` OTLP logs requests per project.
 */
export type RateLimiterName = "API_RATE_LIMITER" | "SIGNUP_RATE_LIMITER" | "INGEST_RATE_LIMITER";

/**
 * The `simple.period` of every limiter in wrangler.toml, which a 429's `Retry-After` reports: the
 * binding answers only allowed or not, so the longest a caller may have to wait is one period.
 */
export const RATE_LIMIT_PERIOD_SECONDS = 60;

/**
 * Counts one request against `key` and throws 429 `throttled` (with `Retry-After`) once the key
 * is over its limit. No D1 round trip: Cloudflare keeps the counters in the location serving the
 * request. `RATE_LIMITS = "off"` skips the count (benchmarks only; any other value enforces), and
 * a limiter that fails answers "allowed" (logged): throttling is protection, not a dependency.
 */
export async function enforceRateLimit(env: Env, limiter: RateLimiterName, key: string): Promise<void> {
  if (env.RATE_LIMITS === "off") return;
  let success: boolean;
  try {
    ({ success } = await env[limiter].limit({ key }));
  } catch (error) {
    console.error("rate limiter failed; request allowed", limiter, error);
    return;
  }
  if (!success) throw throttled(RATE_LIMIT_PERIOD_SECONDS);
}

/**
 * The client's address as Cloudflare reports it (`CF-Connecting-IP`, which clients cannot set).
 * Requests without it (never the case behind Cloudflare) share one counter.
 */
export const clientIp = (c: Context<AppBindings>) => c.req.header("cf-connecting-ip") ?? "unknown";
