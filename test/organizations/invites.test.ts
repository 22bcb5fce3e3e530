import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { activityRows, addMember, call, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";

let owner: Tenant;
beforeAll(async () => {
  owner = await signupFirstUser();
});

const invites = (orgId: string) => `/api/organizations/${orgId}/invites/`;

describe("organization invites", () => {
  it("creates an invite whose token signs the invitee up at the invite's level", async () => {
    const res = await call(invites(owner.organizationId), {
      key: owner.key,
      body: { target_email: "New@Example.com", first_name: "Nia", level: 8 },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ target_email: "new@example.com", level: 8, is_expired: false, created_by: { id: owner.userId } });
    const signup = await call("/api/signup/", {
      body: { email: "new@example.com", first_name: "Nia", invite_token: res.body.invite_token },
    });
    expect(signup.status).toBe(201);
    expect(signup.body.organization).toMatchObject({ id: owner.organizationId, membership_level: 8, member_count: 2 });
    // The invite is consumed.
    const again = await call("/api/signup/", {
      body: { email: "new@example.com", first_name: "Nia", invite_token: res.body.invite_token },
    });
    expect(again.status).toBe(400);
    const joined = await activityRows({ scope: "OrganizationMembership", activity: "joined" });
    expect(joined).toHaveLength(1);
    expect(joined[0]?.user_id).toBe(signup.body.user.id);
  });

  it("refuses a signup whose email differs from the invite's", async () => {
    const res = await call(invites(owner.organizationId), { key: owner.key, body: { target_email: "right@example.com" } });
    const signup = await call("/api/signup/", {
      body: { email: "wrong@example.com", first_name: "W", invite_token: res.body.invite_token },
    });
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
    expect(above.status).toBe(403);
    expect(above.body).toMatchObject({ type: "authentication_error", code: "permission_denied" });
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

  it("keeps the signup token secret: random, apart from the id, shown once, stored hashed", async () => {
    const res = await call(invites(owner.organizationId), { key: owner.key, body: { target_email: "secret@example.com", level: 15 } });
    const token: string = res.body.invite_token;
    // 43 characters of [A-Za-z0-9]: about 256 bits.
    expect(token).toMatch(/^phi_[A-Za-z0-9]{43}$/);
    expect(token).not.toContain(res.body.id);
    const member = await addMember(owner, 1);
    const listed = await call(`${invites(owner.organizationId)}?limit=1000`, { key: member.key });
    expect(listed.status).toBe(200);
    expect(JSON.stringify(listed.body)).not.toContain(token);
    expect(listed.body.results.every((i: any) => !("invite_token" in i))).toBe(true);
    const stored = await env.DB.prepare("select * from organization_invites where id = ?")
      .bind(res.body.id)
      .first<Record<string, string>>();
    expect(JSON.stringify(stored)).not.toContain(token);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
    expect(stored?.token_hash).toBe([...digest].map((b) => b.toString(16).padStart(2, "0")).join(""));
    // The id a member sees in the list does not redeem the invite.
    const byId = await call("/api/signup/", { body: { email: "secret@example.com", first_name: "S", invite_token: res.body.id } });
    expect(byId.status).toBe(400);
    expect(byId.body.attr).toBe("invite_token");
  });

  it("lets an inviter invite only at or below their own level", async () => {
    const admin = await addMember(owner, 8);
    const member = await addMember(owner, 1);
    const invite = (who: Tenant, level: number) =>
      call(invites(owner.organizationId), { key: who.key, body: { target_email: `l${level}-${crypto.randomUUID()}@example.com`, level } });
    expect((await invite(member, 1)).status).toBe(201);
    expect((await invite(member, 8)).status).toBe(403);
    expect((await invite(member, 15)).status).toBe(403);
    expect((await invite(admin, 8)).status).toBe(201);
    expect((await invite(admin, 15)).status).toBe(403);
    expect((await invite(owner, 15)).status).toBe(201);
  });

  it("refuses used and expired tokens; inviting again issues a new token", async () => {
    const first = await call(invites(owner.organizationId), { key: owner.key, body: { target_email: "again@example.com" } });
    const second = await call(invites(owner.organizationId), { key: owner.key, body: { target_email: "again@example.com" } });
    expect(second.body.invite_token).not.toBe(first.body.invite_token);
    const signup = (token: string, email = "again@example.com") =>
      call("/api/signup/", { body: { email, first_name: "A", invite_token: token } });
    const stale = await signup(first.body.invite_token);
    expect(stale.status).toBe(400);
    expect(stale.body).toMatchObject({ attr: "invite_token", detail: "This invite is invalid or has expired." });
    const listed = await call(`${invites(owner.organizationId)}?limit=1000`, { key: owner.key });
    expect(listed.body.results.filter((i: any) => i.target_email === "again@example.com")).toHaveLength(1);
    expect((await signup(second.body.invite_token)).status).toBe(201);
    expect((await signup(second.body.invite_token)).status).toBe(400);

    const old = await call(invites(owner.organizationId), { key: owner.key, body: { target_email: "late@example.com" } });
    await env.DB.prepare("update organization_invites set created_at = ? where id = ?")
      .bind(Date.now() - 4 * 24 * 3600 * 1000, old.body.id)
      .run();
    const expired = await signup(old.body.invite_token, "late@example.com");
    expect(expired.status).toBe(400);
    expect(expired.body.attr).toBe("invite_token");
  });
});
