import { describe, expect, it } from "vitest";
import { assertDocumented, DocumentMismatch } from "../openapi-conformance";

// The check every test response goes through must itself fail on a mismatch.

const list = "http://audit.test/api/projects/1/activity_log/";
const row = {
  id: "0191d6c5-3f4e-7000-8000-000000000000",
  user: null,
  unread: false,
  organization_id: "0191d6c5-3f4e-7000-8000-000000000001",
  team_id: 1,
  was_impersonated: false,
  is_system: true,
  client: null,
  ip_address: null,
  activity: "deleted",
  item_id: "7",
  scope: "ActivityLog",
  detail: null,
  created_at: "2026-12-04T10:00:00.000Z",
  recorded_by: null,
  sequence: null,
  hash: null,
};

describe("assertDocumented", () => {
  it("accepts a system row (user null) in an activity page, through /api/environments too", async () => {
    await assertDocumented("GET", list, 200, "application/json", { next: null, previous: null, results: [row] });
    await assertDocumented("GET", list.replace("projects", "environments"), 200, "application/json", {
      next: null,
      previous: null,
      results: [],
    });
  });

  it("rejects a body the schema does not allow, an undocumented status or content type, and an unknown operation", async () => {
    const mismatch = (promise: Promise<unknown>) => expect(promise).rejects.toBeInstanceOf(DocumentMismatch);
    await mismatch(
      assertDocumented("GET", list, 200, "application/json", { next: null, previous: null, results: [{ ...row, user: "x" }] }),
    );
    await mismatch(assertDocumented("GET", list, 200, "application/json", { results: [] }));
    await mismatch(assertDocumented("GET", list, 418, "application/json", {}));
    await mismatch(assertDocumented("GET", list, 200, "text/csv", "a,b"));
    await mismatch(assertDocumented("GET", "http://audit.test/api/nowhere/", 200, "application/json", {}));
    await assertDocumented("GET", "http://audit.test/api/nowhere/", 404, "application/json", {
      type: "invalid_request",
      code: "not_found",
      detail: "Not found.",
      attr: null,
    });
  });
});
