import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { app } from "../../src/app";
import { BASE, call, signupFirstUser, type Tenant } from "../helpers";

let owner: Tenant;

beforeAll(async () => {
  owner = await signupFirstUser();
});

afterEach(() => vi.restoreAllMocks());

describe("request ids", () => {
  it("every answer carries X-Request-Id; a well-formed client id is kept, others replaced", async () => {
    const fresh = await call("/api/users/@me/", { key: owner.key });
    expect(fresh.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const kept = await call("/api/users/@me/", { key: owner.key, headers: { "x-request-id": "client-trace_42" } });
    expect(kept.headers.get("x-request-id")).toBe("client-trace_42");
    const replaced = await call("/api/users/@me/", { key: owner.key, headers: { "x-request-id": "bad id; drop table" } });
    expect(replaced.headers.get("x-request-id")).not.toContain("bad");
  });

  it("error bodies include it, in the envelope", async () => {
    for (const res of [
      await call("/api/users/@me/", { key: "phx_nope", headers: { "x-request-id": "err-1" } }),
      await call("/api/no-such-route/", { key: owner.key, headers: { "x-request-id": "err-2" } }),
      await call(`/api/projects/${owner.projectId}/activity_log/?page_size=0`, { key: owner.key, headers: { "x-request-id": "err-3" } }),
    ]) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.body).toMatchObject({ type: expect.any(String), code: expect.any(String), request_id: res.headers.get("x-request-id") });
    }
  });
});

describe("structured logs", () => {
  it("one JSON line per request with method, route template, status, duration, request id and tenant; never the key", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: string) => void lines.push(line));
    await call(`/api/projects/${owner.projectId}/activity_log/`, { key: owner.key, headers: { "x-request-id": "log-1" } });
    // Written after the answer (off its response path).
    const entry = await vi.waitFor(() => {
      const found = lines.map((l) => JSON.parse(l)).find((l) => l.request_id === "log-1");
      if (!found) throw new Error("no request line yet");
      return found;
    });
    expect(entry).toMatchObject({
      level: "info",
      message: "request",
      method: "GET",
      route: "/api/projects/:project_id/activity_log",
      status: 200,
      ms: expect.any(Number),
      project_id: String(owner.projectId),
    });
    expect(lines.join("\n")).not.toContain(owner.key);
  });
});

describe("GET /healthz", () => {
  it("reads D1 and answers 200", async () => {
    const res = await call("/healthz");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true, checks: { d1: "ok" } });
  });

  it("answers 503 naming D1 when it fails", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const broken = { ...env, DB: { prepare: () => ({ first: () => Promise.reject(new Error("D1 down")) }) } };
    const res = await app.fetch(new Request(`${BASE}/healthz`), broken, { waitUntil() {}, passThroughOnException() {} } as never);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ type: "server_error", code: "unavailable", attr: "d1", checks: { d1: "failed" } });
  });
});
