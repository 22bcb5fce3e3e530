import { beforeAll, describe, expect, it } from "vitest";
import { activityRows, addMember, call, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";

let owner: Tenant;
beforeAll(async () => {
  owner = await signupFirstUser();
});

const invites = (orgId: string) => `/api/organizations/${orgId}/invites/`;

describe("organization invites", () => {
  it("creates an invite whose id signs the invitee up at the invite's level", async () => {
    const res = await call(invites(owner.organizationId), {
      key: owner.key,
      body: { target_email: "New@Example.com", first_name: "Nia", level: 8 },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ target_email: "new@example.com", level: 8, is_expired: false, created_by: { id: owner.userId } });
    const signup = await call("/api/signup/", { body: { email: "new@example.com", first_name: "Nia", invite_token: res.body.id } });
    expect(signup.status).toBe(201);
    expect(signup.body.organization).toMatchObject({ id: owner.organizationId, membership_level: 8, member_count: 2 });
    // The invite is consumed.
    const again = await call("/api/signup/", { body: { email: "new@example.com", first_name: "Nia", invite_token: res.body.id } });
    expect(again.status).toBe(400);
    const joined = await activityRows({ scope: "OrganizationMembership", activity: "joined" });
    expect(joined).toHaveLength(1);
    expect(joined[0]?.user_id).toBe(signup.body.user.id);
  });

  it("refuses a signup whose email differs from the invite's", async () => {
    const res = await call(invites(owner.organizationId), { key: owner.key, body: { target_email: "right@example.com" } });
    const signup = await call("/api/signup/", { body: { email: "wrong@example.com", first_name: "W", invite_token: res.body.id } });
    expect(signup.status).toBe(400);
    expect(signup.body.attr).toBe("email");
  });

  it("lists and revokes invites with pagination", async () => {
    for (const n of [1, 2, 3]) await call(invites(owner.organizationId), { key: owner.key, body: { target_email: `p${n}@example.com` } });
    const page = await call(`${invites(owner.organizationId)}?limit=2`, { key: owner.key });
    expect(page.status).toBe(200);
    expect(page.body.results).toHaveLength(2);
    expect(page.body.count).toBeGreaterThanOrEqual(4);
    expect(page.body.next).toMatch(/^http:\/\/audit\.test\/api\/organizations\/.+\/invites\/\?limit=2&offset=2$/);
    expect(page.body.previous).toBeNull();
    const id = page.body.results[0].id;
    expect((await call(`${invites(owner.organizationId)}${id}/`, { key: owner.key, method: "DELETE" })).status).toBe(204);
    expect((await call(`${invites(owner.organizationId)}${id}/`, { key: owner.key, method: "DELETE" })).status).toBe(404);
    expect(await activityRows({ scope: "OrganizationInvite", activity: "deleted" })).toHaveLength(1);
  });

  it("validates level and email", async () => {
    const bad = await call(invites(owner.organizationId), { key: owner.key, body: { target_email: "x@example.com", level: 3 } });
    expect(bad.status).toBe(400);
    expect(bad.body.attr).toBe("level");
    const noEmail = await call(invites(owner.organizationId), { key: owner.key, body: {} });
    expect(noEmail.body).toMatchObject({ attr: "target_email", code: "required" });
  });

  it("stops members from inviting above their level or when members_can_invite is off", async () => {
    const member = await addMember(owner, 1);
    const above = await call(invites(owner.organizationId), { key: member.key, body: { target_email: "boss@example.com", level: 8 } });
    expect(above.status).toBe(400);
    await call(`/api/organizations/${owner.organizationId}/`, { key: owner.key, method: "PATCH", body: { members_can_invite: false } });
    const off = await call(invites(owner.organizationId), { key: member.key, body: { target_email: "friend@example.com" } });
    expect(off.status).toBe(403);
    await call(`/api/organizations/${owner.organizationId}/`, { key: owner.key, method: "PATCH", body: { members_can_invite: true } });
  });

  it("guards access: no key, wrong scope, other organization", async () => {
    expect((await call(invites(owner.organizationId))).status).toBe(401);
    const readOnly = await keyWithScopes(owner, ["organization_member:read"]);
    const denied = await call(invites(owner.organizationId), { key: readOnly, body: { target_email: "s@example.com" } });
    expect(denied.status).toBe(403);
    expect(denied.body.detail).toBe("API key missing required scope 'organization_member:write'");
    expect((await call(invites(owner.organizationId), { key: readOnly })).status).toBe(200);
    const stranger = await addMember(owner, 15);
    const other = await otherOrganization(stranger);
    expect((await call(invites(other.organizationId), { key: owner.key })).status).toBe(404);
  });
});
