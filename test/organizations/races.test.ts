import { beforeAll, describe, expect, it } from "vitest";
import { call, signupFirstUser, type Tenant } from "../helpers";

// Unique names checked, then written: simultaneous requests all pass the check and the UNIQUE
// index refused all but one write with a 500 (6 organizations "race": 2 x 201, 4 x 500).
let owner: Tenant;

beforeAll(async () => {
  owner = await signupFirstUser();
});

describe("simultaneous creates", { timeout: 60_000 }, () => {
  it("organizations with one name each get a slug of their own", async () => {
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => call("/api/organizations/", { key: owner.key, body: { name: "Race" } })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(201));
    const slugs = answers.map((a) => a.body.slug);
    expect(new Set(slugs).size).toBe(8);
    expect(slugs).toContain("race");
  });

  it("roles with one name: one 201, the others 400 in the envelope", async () => {
    const path = `/api/organizations/${owner.organizationId}/roles/`;
    const answers = await Promise.all(Array.from({ length: 6 }, () => call(path, { key: owner.key, body: { name: "Approvers" } })));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 201)) {
      expect(a.status).toBe(400);
      expect(a.body).toMatchObject({ type: "validation_error", code: "unique", attr: "name" });
    }
    const others = await Promise.all(["A", "B", "C", "D"].map((name) => call(path, { key: owner.key, body: { name } })));
    const renames = await Promise.all(
      others.map((o) => call(`${path}${o.body.id}/`, { key: owner.key, method: "PATCH", body: { name: "Renamed" } })),
    );
    expect(renames.filter((a) => a.status === 200)).toHaveLength(1);
    expect(renames.filter((a) => a.status === 400)).toHaveLength(3);
  });
});
