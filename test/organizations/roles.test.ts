import { beforeAll, describe, expect, it } from "vitest";
import { activityRows, addMember, call, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";

let owner: Tenant;
beforeAll(async () => {
  owner = await signupFirstUser();
});

const roles = (t: Tenant) => `/api/organizations/${t.organizationId}/roles/`;

describe("roles", () => {
  it("creates, renames and deletes a role with activity rows", async () => {
    const created = await call(roles(owner), { key: owner.key, body: { name: "Approvers" } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: "Approvers", members: [], created_by: { id: owner.userId }, is_default: false });
    const dup = await call(roles(owner), { key: owner.key, body: { name: "Approvers" } });
    expect(dup.body).toMatchObject({ attr: "name", code: "unique" });
    const renamed = await call(`${roles(owner)}${created.body.id}/`, {
      key: owner.key,
      method: "PATCH",
      body: { name: "Release managers" },
    });
    expect(renamed.body.name).toBe("Release managers");
    expect((await call(`${roles(owner)}${created.body.id}/`, { key: owner.key, method: "DELETE" })).status).toBe(204);
    expect((await call(`${roles(owner)}${created.body.id}/`, { key: owner.key })).status).toBe(404);
    expect((await activityRows({ scope: "Role" })).map((r) => r.activity)).toEqual(["created", "updated", "deleted"]);
  });

  it("adds and removes role members who must belong to the organization", async () => {
    const member = await addMember(owner, 1);
    const role = (await call(roles(owner), { key: owner.key, body: { name: "Ops" } })).body;
    const add = await call(`${roles(owner)}${role.id}/role_memberships/`, { key: owner.key, body: { user_uuid: member.userUuid } });
    expect(add.status).toBe(201);
    expect(add.body).toMatchObject({ role_id: role.id, user: { uuid: member.userUuid } });
    const again = await call(`${roles(owner)}${role.id}/role_memberships/`, { key: owner.key, body: { user_uuid: member.userUuid } });
    expect(again.status).toBe(400);
    const outsider = await call(`${roles(owner)}${role.id}/role_memberships/`, {
      key: owner.key,
      body: { user_uuid: "00000000-0000-7000-8000-000000000000" },
    });
    expect(outsider.body.attr).toBe("user_uuid");
    const list = await call(`${roles(owner)}${role.id}/role_memberships/`, { key: owner.key });
    expect(list.body.count).toBe(1);
    expect((await call(roles(owner), { key: owner.key })).body.results.find((r: any) => r.id === role.id).members).toHaveLength(1);
    const remove = await call(`${roles(owner)}${role.id}/role_memberships/${add.body.id}/`, { key: owner.key, method: "DELETE" });
    expect(remove.status).toBe(204);
    expect((await call(`${roles(owner)}${role.id}/role_memberships/`, { key: owner.key })).body.count).toBe(0);
  });

  it("lets members read but only admins write, and hides other organizations", async () => {
    const member = await addMember(owner, 1);
    expect((await call(roles(owner), { key: member.key })).status).toBe(200);
    expect((await call(roles(owner), { key: member.key, body: { name: "Nope" } })).status).toBe(403);
    const readOnly = await keyWithScopes(owner, ["organization:read"]);
    expect((await call(roles(owner), { key: readOnly, body: { name: "Nope" } })).status).toBe(403);
    expect((await call(roles(owner))).status).toBe(401);
    const stranger = await addMember(owner, 15);
    const other = await otherOrganization(stranger);
    expect((await call(`/api/organizations/${other.organizationId}/roles/`, { key: owner.key })).status).toBe(404);
  });
});

describe("organization default_role_id", () => {
  it("puts members who join with an invite into the default role", async () => {
    const role = (await call(roles(owner), { key: owner.key, body: { name: "Newcomers" } })).body;
    const set = await call(`/api/organizations/${owner.organizationId}/`, {
      key: owner.key,
      method: "PATCH",
      body: { default_role_id: role.id },
    });
    expect(set.body.default_role_id).toBe(role.id);
    const joined = await addMember(owner, 1);
    const members = await call(`${roles(owner)}${role.id}/role_memberships/`, { key: owner.key });
    expect(members.body.results.map((m: any) => m.user.uuid)).toEqual([joined.userUuid]);
    expect((await activityRows({ scope: "Role", activity: "member_added" })).at(-1)).toMatchObject({
      item_id: role.id,
      user_id: joined.userId,
    });

    await call(`/api/organizations/${owner.organizationId}/`, { key: owner.key, method: "PATCH", body: { default_role_id: null } });
    await addMember(owner, 1);
    expect((await call(`${roles(owner)}${role.id}/role_memberships/`, { key: owner.key })).body.count).toBe(1);
  });
});
