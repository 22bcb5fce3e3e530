import { describe, expect, it } from "vitest";
import { activityRows, call } from "../helpers";

// Storage is isolated per test file, not per test: these run in order on one instance.
describe("POST /api/signup/", () => {
  it("creates user, organization, project and a * key on an empty instance", async () => {
    const res = await call("/api/signup/", {
      body: { email: "Ada@Example.com", first_name: "Ada", last_name: "Lovelace", organization_name: "Analytical", project_name: "Engine" },
    });
    expect(res.status).toBe(201);
    expect(res.body.user).toMatchObject({ email: "ada@example.com", first_name: "Ada", last_name: "Lovelace" });
    expect(res.body.organization).toMatchObject({ name: "Analytical", slug: "analytical", membership_level: 15, member_count: 1 });
    expect(res.body.project).toMatchObject({ name: "Engine", organization: res.body.organization.id });
    expect(res.body.project.api_token).toMatch(/^phc_/);
    expect(res.body.personal_api_key).toMatchObject({ label: "Default key", scopes: ["*"] });
    expect(res.body.personal_api_key.value).toMatch(/^phx_[A-Za-z0-9]{47}$/);

    const me = await call("/api/users/@me/", { key: res.body.personal_api_key.value });
    expect(me.status).toBe(200);
    expect(me.body.organization.id).toBe(res.body.organization.id);

    const rows = await activityRows();
    expect(rows.map((r) => `${r.scope}:${r.activity}`)).toEqual(["Organization:created", "Project:created", "PersonalAPIKey:created"]);
    expect(rows.every((r) => r.user_id === res.body.user.id && r.is_system === 0)).toBe(true);
    expect(rows[1]?.team_id).toBe(res.body.project.id);
  });

  it("is closed once the instance has a user", async () => {
    const res = await call("/api/signup/", { body: { email: "late@example.com", first_name: "Late" } });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ type: "authentication_error", code: "permission_denied" });
  });

  it("rejects bad input with the validation envelope", async () => {
    const res = await call("/api/signup/", { body: { email: "not-an-email", first_name: "A" } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ type: "validation_error", attr: "email" });
    const missing = await call("/api/signup/", { body: { email: "a@example.com" } });
    expect(missing.body).toMatchObject({
      type: "validation_error",
      code: "required",
      detail: "This field is required.",
      attr: "first_name",
    });
  });

  it("answers malformed JSON with a 400, not a 500", async () => {
    const res = await call("/api/signup/", { raw: "{not json" });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ type: "validation_error", code: "parse_error" });
  });
});
