import { exports } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { type FuzzRequest, requestArbitrary, violation } from "../../fuzz/requests.ts";
import { BASE, call, signupFirstUser } from "../helpers";

// The deterministic slice of `npm run fuzz`: the same generator, a fixed seed, a few hundred requests.
const RUNS = 300;
let requests: FuzzRequest[];

beforeAll(async () => {
  const owner = await signupFirstUser();
  const doc = (await call("/api/schema/")).body;
  requests = fc.sample(requestArbitrary(doc, { key: owner.key, organizationId: owner.organizationId, projectId: owner.projectId }), {
    numRuns: RUNS,
    seed: 42,
  });
});

describe("requests generated from the OpenAPI document", () => {
  it("answer without a 5xx, inside the error envelope, within 10 s", { timeout: 300_000 }, async () => {
    const failures: string[] = [];
    for (const req of requests) {
      const started = Date.now();
      const res = await exports.default.fetch(
        new Request(`${BASE}${req.path}`, { method: req.method, headers: req.headers, body: req.body }),
      );
      const problem = violation(res.status, await res.text(), Date.now() - started);
      if (problem) failures.push(`${problem}: ${req.kind} ${req.method} ${req.path.slice(0, 160)}`);
    }
    expect(failures).toEqual([]);
  });
});
