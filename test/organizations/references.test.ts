import { beforeAll, describe, expect, it } from "vitest";
import { createAlert } from "../alerts/alert-helpers";
import { call, otherOrganization, signupFirstUser, type Tenant } from "../helpers";

// Every id in a body that names another object must be one of the caller's organization (issue 12, finding 10).

let owner: Tenant;
let stranger: Tenant;
beforeAll(async () => {
  owner = await signupFirstUser();
  // Another organization of the same user: its objects are reachable, yet not this organization's.
  const other = await otherOrganization(owner);
  stranger = { ...owner, organizationId: other.organizationId, projectId: other.projectId };
});

async function role(tenant: Tenant, name: string): Promise<string> {
  const res = await call(`/api/organizations/${tenant.organizationId}/roles/`, { key: tenant.key, body: { name } });
  if (res.status !== 201) throw new Error(`role create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

describe("same-organization references", () => {
  it("default_role_id names a role of this organization", async () => {
    const foreign = await role(stranger, "Foreign");
    const own = await role(owner, "Own");
    const org = `/api/organizations/${owner.organizationId}/`;
    const refused = await call(org, { key: owner.key, method: "PATCH", body: { default_role_id: foreign } });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ type: "validation_error", attr: "default_role_id" });
    expect((await call(org, { key: owner.key })).body.default_role_id).toBeNull();
    const unknown = await call(org, { key: owner.key, method: "PATCH", body: { default_role_id: crypto.randomUUID() } });
    expect(unknown.status).toBe(400);
    const ok = await call(org, { key: owner.key, method: "PATCH", body: { default_role_id: own } });
    expect(ok.status).toBe(200);
    expect(ok.body.default_role_id).toBe(own);
    expect((await call(org, { key: owner.key, method: "PATCH", body: { default_role_id: null } })).status).toBe(200);
    // A new organization has no roles yet.
    const created = await call("/api/organizations/", { key: owner.key, body: { name: "With role", default_role_id: own } });
    expect(created.status).toBe(400);
    expect(created.body.attr).toBe("default_role_id");
  });

  it("a destination's alert_ids name alerts of this organization", async () => {
    const foreign = (await createAlert(stranger)).id;
    const own = (await createAlert(owner)).id;
    const base = `/api/projects/${owner.projectId}/destinations/`;
    const body = (alert_ids: string[]) => ({
      name: "Hook",
      type: "webhook",
      url: "https://hooks.receiver.invalid/in",
      events: ["logs_alert_firing"],
      filters: { alert_ids },
    });
    const refused = await call(base, { key: owner.key, body: body([own, foreign]) });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ type: "validation_error", attr: "filters__alert_ids__1" });
    const created = await call(base, { key: owner.key, body: body([own]) });
    expect(created.status).toBe(201);
    const patched = await call(`${base}${created.body.id}/`, {
      key: owner.key,
      method: "PATCH",
      body: { filters: { alert_ids: [foreign] } },
    });
    expect(patched.status).toBe(400);
    expect((await call(`${base}${created.body.id}/`, { key: owner.key })).body.filters).toEqual({ alert_ids: [own] });
  });
});
