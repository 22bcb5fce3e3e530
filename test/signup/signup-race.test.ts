import { expect, it } from "vitest";
import { call } from "../helpers";

it("lets exactly one of two concurrent first-run signups through", async () => {
  const results = await Promise.all(
    ["a@example.com", "b@example.com", "c@example.com"].map((email) => call("/api/signup/", { body: { email, first_name: "X" } })),
  );
  expect(results.map((r) => r.status).sort()).toEqual([201, 403, 403]);
});
