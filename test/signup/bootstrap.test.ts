import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src";
import { BASE } from "../helpers";

// The tests' own bindings open the first signup (as `npm start` does); these calls use a deployed
// instance's bindings instead: ALLOW_OPEN_FIRST_SIGNUP "false", with or without BOOTSTRAP_TOKEN.
async function deployedSignup(body: Record<string, unknown>, bootstrapToken?: string) {
  const ctx = createExecutionContext();
  const deployed = { ...env, ALLOW_OPEN_FIRST_SIGNUP: "false", BOOTSTRAP_TOKEN: bootstrapToken };
  const request = new Request(`${BASE}/api/signup/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "first@example.com", first_name: "First", ...body }),
  });
  const res = await worker.fetch(request, deployed, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: (await res.json()) as any };
}

const SECRET = "bootstrap-0123456789-abcdefghij";

describe("the first signup of a deployed instance", () => {
  it("stays closed without the BOOTSTRAP_TOKEN secret, whatever the caller sends", async () => {
    const res = await deployedSignup({ bootstrap_token: "" });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ type: "authentication_error", code: "permission_denied" });
    expect((await deployedSignup({ bootstrap_token: "anything" })).status).toBe(403);
  });

  it("needs the bootstrap token when the secret is set", async () => {
    expect((await deployedSignup({}, SECRET)).status).toBe(403);
    expect((await deployedSignup({ bootstrap_token: `${SECRET}x` }, SECRET)).status).toBe(403);
    expect((await deployedSignup({ bootstrap_token: SECRET.slice(0, -1) }, SECRET)).status).toBe(403);
    const first = await deployedSignup({ bootstrap_token: SECRET }, SECRET);
    expect(first.status).toBe(201);
    expect(first.body.organization.membership_level).toBe(15);
    // Used once: the instance has its owner now.
    const again = await deployedSignup({ email: "second@example.com", bootstrap_token: SECRET }, SECRET);
    expect(again.status).toBe(403);
    expect(again.body.detail).toContain("Signup is closed");
  });
});
