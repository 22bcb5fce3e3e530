import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { enforceRateLimit, RATE_LIMIT_PERIOD_SECONDS, type RateLimiterName } from "../../src/http/rate-limit";
import { ApiError } from "../../src/lib/errors";
import { sha256Hex } from "../../src/lib/ids";
import { type ApiResponse, activityRows, call, otherOrganization, signupFirstUser, type Tenant } from "../helpers";
import { ingest, otlpPayload } from "../logs/otlp-fixtures";

// The limits these tests run with (vitest.config.ts `ratelimits`; wrangler.toml has the deployed ones).
const LIMITS = JSON.parse(env.TEST_RATE_LIMITS) as Record<RateLimiterName, { simple: { limit: number; period: number } }>;
const limit = (limiter: RateLimiterName) => LIMITS[limiter].simple.limit;

const THROTTLED = {
  type: "throttled_error",
  code: "throttled",
  detail: `Request was throttled. Expected available in ${RATE_LIMIT_PERIOD_SECONDS} seconds.`,
  attr: null,
};

function expectThrottled(res: ApiResponse) {
  expect(res.status).toBe(429);
  expect(res.body).toEqual({ ...THROTTLED, request_id: res.headers.get("x-request-id") });
  expect(res.headers.get("retry-after")).toBe(String(RATE_LIMIT_PERIOD_SECONDS));
}

/**
 * Counts `n` requests for `key` straight on the binding, as `n` earlier requests would have, so a
 * test reaches a limit without making hundreds of HTTP requests.
 */
async function spend(limiter: RateLimiterName, key: string, n: number) {
  for (let i = 0; i < n; i++) {
    const { success } = await env[limiter].limit({ key });
    if (!success) throw new Error(`${limiter} counter for ${key} was already full`);
  }
}

/**
 * The local limiter's windows are aligned to the clock: a scenario that straddles a window's end
 * sees its counter reset. It is then run once more (with fresh keys): it takes far less than a
 * period, so the second run fits in one window.
 */
async function inOneWindow<T>(scenario: () => Promise<T>): Promise<T> {
  const window = () => Math.floor(Date.now() / (RATE_LIMIT_PERIOD_SECONDS * 1000));
  const before = window();
  const result = await scenario();
  return window() === before ? result : scenario();
}

// Filling a counter takes a few hundred binding calls: more than the default 5 s on a busy machine.
const SLOW = 30_000;

let owner: Tenant;
beforeAll(async () => {
  owner = await signupFirstUser();
});

async function newKey(scopes = ["*"]): Promise<{ id: string; value: string }> {
  const res = await call("/api/personal_api_keys/", { key: owner.key, body: { label: `rl-${crypto.randomUUID()}`, scopes } });
  expect(res.status).toBe(201);
  return { id: res.body.id, value: res.body.value };
}

describe("rate limits: API requests per key", () => {
  it(
    "answers 429 throttled with Retry-After once a key is over its limit, and counts every request",
    async () => {
      const { key, allowed, refused, write } = await inOneWindow(async () => {
        const key = await newKey();
        await spend("API_RATE_LIMITER", await sha256Hex(key.value), limit("API_RATE_LIMITER") - 1);
        const allowed = await call("/api/users/@me/", { key: key.value });
        const refused = await call("/api/users/@me/", { key: key.value });
        const write = await call(`/api/projects/${owner.projectId}/`, { key: key.value, method: "PATCH", body: { name: "Renamed" } });
        return { key, allowed, refused, write };
      });
      expect(allowed.status).toBe(200);
      expectThrottled(refused);
      // A throttled write changes nothing and records nothing.
      expectThrottled(write);
      const project = await call(`/api/projects/${owner.projectId}/`, { key: owner.key });
      expect(project.body.name).not.toBe("Renamed");
      expect((await activityRows({ scope: "Project", activity: "updated" })).length).toBe(0);
      // Per key: the same user's other key is still served.
      expect((await call("/api/users/@me/", { key: owner.key })).status).toBe(200);
      expect(key.id).toBeTruthy();
    },
    SLOW,
  );

  it(
    "refuses a key over its limit before any D1 work, one-trip reads included",
    async () => {
      const { refused } = await inOneWindow(async () => {
        const key = await newKey();
        await spend("API_RATE_LIMITER", await sha256Hex(key.value), limit("API_RATE_LIMITER"));
        const refused = await call(`/api/projects/${owner.projectId}/activity_log/?page_size=100`, { key: key.value });
        return { refused };
      });
      expectThrottled(refused);
      expect(refused.headers.get("server-timing")).toMatch(/(^|,\s*)db;[^,]*desc="0 round trips"/);
    },
    SLOW,
  );

  it("an unknown key is a 401 at any ordinary rate", async () => {
    const res = await call("/api/users/@me/", { key: "phx_unknown_key_0000000000000000000000000000" });
    expect(res.status).toBe(401);
    expect(res.headers.get("retry-after")).toBeNull();
  });

  it(
    "limits viewer links per link, like keys",
    async () => {
      const { allowed, refused, creatorStillServed } = await inOneWindow(async () => {
        const viewer = await call(`/api/organizations/${owner.organizationId}/viewer_tokens/`, { key: owner.key, body: {} });
        expect(viewer.status).toBe(201);
        await spend("API_RATE_LIMITER", await sha256Hex(viewer.body.token), limit("API_RATE_LIMITER") - 1);
        const path = `/api/projects/${owner.projectId}/advanced_activity_logs/`;
        const allowed = await call(path, { key: viewer.body.token });
        const refused = await call(path, { key: viewer.body.token });
        const creatorStillServed = await call(path, { key: owner.key });
        return { allowed, refused, creatorStillServed };
      });
      expect(allowed.status).toBe(200);
      expectThrottled(refused);
      expect(creatorStillServed.status).toBe(200);
    },
    SLOW,
  );

  it(
    'RATE_LIMITS = "off" skips the limiter (benchmarks); any other value enforces it',
    async () => {
      const key = await newKey();
      await inOneWindow(async () => {
        await spend("API_RATE_LIMITER", `full-${key.id}`, limit("API_RATE_LIMITER"));
        await expect(enforceRateLimit({ ...env, RATE_LIMITS: "off" }, "API_RATE_LIMITER", `full-${key.id}`)).resolves.toBeUndefined();
        for (const value of [undefined, "on", "OFF", "false"]) {
          const refused = enforceRateLimit({ ...env, RATE_LIMITS: value }, "API_RATE_LIMITER", `full-${key.id}`);
          await expect(refused).rejects.toBeInstanceOf(ApiError);
          await expect(refused).rejects.toMatchObject({ status: 429, headers: { "Retry-After": "60" } });
        }
      });
    },
    SLOW,
  );
});

describe("rate limits: signup per IP", () => {
  const ip = () => `198.51.100.${Math.floor(Math.random() * 250) + 1}`;
  const signup = (address: string, path = "/api/signup/") =>
    call(path, { headers: { "cf-connecting-ip": address }, body: { email: "not-an-email", first_name: "X" } });

  it(
    "throttles an IP before its body is read; other IPs are served",
    async () => {
      const { first, refused, noSlash, otherIp } = await inOneWindow(async () => {
        const address = ip();
        const other = `203.0.113.${Math.floor(Math.random() * 250) + 1}`;
        await spend("SIGNUP_RATE_LIMITER", address, limit("SIGNUP_RATE_LIMITER") - 1);
        const first = await signup(address);
        const refused = await signup(address);
        const noSlash = await signup(address, "/api/signup");
        const otherIp = await signup(other);
        return { first, refused, noSlash, otherIp };
      });
      expect(first.status).toBe(400);
      expectThrottled(refused);
      expectThrottled(noSlash);
      expect(otherIp.status).toBe(400);
    },
    SLOW,
  );
});

describe("rate limits: OTLP logs ingestion per project", () => {
  it(
    "throttles a project's token on both ingestion paths and stores nothing; other projects are served",
    async () => {
      const other = await otherOrganization(owner);
      const otherProject = await call(`/api/projects/${other.projectId}/`, { key: owner.key });
      const service = `rl-${crypto.randomUUID()}`;
      const payload = otlpPayload({ [service]: [{ body: "one" }] });
      const { allowed, refused, defaultPath, otherToken } = await inOneWindow(async () => {
        await spend("INGEST_RATE_LIMITER", String(owner.projectId), limit("INGEST_RATE_LIMITER") - 1);
        const allowed = await ingest(owner.apiToken, payload);
        const refused = await ingest(owner.apiToken, payload);
        const defaultPath = await call("/v1/logs", { key: owner.apiToken, body: payload });
        const otherToken = await ingest(otherProject.body.api_token, payload);
        return { allowed, refused, defaultPath, otherToken };
      });
      expect(allowed.status).toBe(200);
      expectThrottled(refused);
      expectThrottled(defaultPath);
      expect(otherToken.status).toBe(200);
      const stored = await env.DB.prepare("SELECT count(*) AS n FROM log_records WHERE service_name = ? AND project_id = ?")
        .bind(service, owner.projectId)
        .first<{ n: number }>();
      expect(stored?.n).toBe(1);
    },
    SLOW,
  );

  it("authenticates first: an unknown token is a 401, never a 429", async () => {
    const res = await ingest("phc_unknown", otlpPayload({ s: [{}] }));
    expect(res.status).toBe(401);
  });
});
