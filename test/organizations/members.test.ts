import { beforeAll, describe, expect, it } from "vitest";
import { activityRows, addMember, call, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";

let owner: Tenant;
beforeAll(async () => {
  owner = await signupFirstUser();
});

const members = (t: Tenant) => `/api/organizations/${t.organizationId}/members/`;

describe("organization members", () => {
  it("lists members with their user and level", async () => {
    await addMember(owner, 8);
    const res = await call(members(owner), { key: owner.key });
    expect(res.status).toBe(200);
    expect(res.body.count).toBe(2);
    expect(res.body.results[0]).toMatchObject({ level: 15, user: { id: owner.userId, uuid: owner.userUuid } });
    expect(res.body.results[1].level).toBe(8);
  });

  it("changes a level and records the diff", async () => {
    const member = await addMember(owner, 1);
    const res = await call(`${members(owner)}${member.userUuid}/`, { key: owner.key, method: "PATCH", body: { level: 8 } });
    expect(res.status).toBe(200);
    expect(res.body.level).toBe(8);
    const [row] = await activityRows({ scope: "OrganizationMembership", activity: "updated" });
    expect(row?.detail.changes).toEqual([{ type: "OrganizationMembership", action: "changed", field: "level", before: 1, after: 8 }]);
  });

  it("never lets an admin raise anyone above their own level, edit a higher level, or edit themselves", async () => {
    const admin = await addMember(owner, 8);
    const member = await addMember(owner, 1);
    const above = await call(`${members(owner)}${member.userUuid}/`, { key: admin.key, method: "PATCH", body: { level: 15 } });
    expect(above.status).toBe(400);
    expect(above.body.attr).toBe("level");
    expect((await call(`${members(owner)}${owner.userUuid}/`, { key: admin.key, method: "PATCH", body: { level: 1 } })).status).toBe(403);
    expect((await call(`${members(owner)}${admin.userUuid}/`, { key: admin.key, method: "PATCH", body: { level: 1 } })).status).toBe(403);
    expect((await call(`${members(owner)}${admin.userUuid}/`, { key: member.key, method: "PATCH", body: { level: 1 } })).status).toBe(403);
    const invalid = await call(`${members(owner)}${member.userUuid}/`, { key: owner.key, method: "PATCH", body: { level: 5 } });
    expect(invalid.body.attr).toBe("level");
  });

  it("removes members (admins) and lets members leave, but keeps the last owner", async () => {
    const admin = await addMember(owner, 8);
    const member = await addMember(owner, 1);
    const leaver = await addMember(owner, 1);
    expect((await call(`${members(owner)}${admin.userUuid}/`, { key: member.key, method: "DELETE" })).status).toBe(403);
    expect((await call(`${members(owner)}${member.userUuid}/`, { key: admin.key, method: "DELETE" })).status).toBe(204);
    expect((await call(`${members(owner)}${leaver.userUuid}/`, { key: leaver.key, method: "DELETE" })).status).toBe(204);
    expect((await call(members(owner), { key: member.key })).status).toBe(404);
    const lastOwner = await call(`${members(owner)}${owner.userUuid}/`, { key: owner.key, method: "DELETE" });
    expect(lastOwner.status).toBe(400);
    const rows = await activityRows({ scope: "OrganizationMembership" });
    expect(rows.map((r) => r.activity)).toEqual(expect.arrayContaining(["deleted", "left"]));
  });

  it("guards access", async () => {
    expect((await call(members(owner))).status).toBe(401);
    expect((await call(members(owner), { key: "phx_wrong" })).body.code).toBe("authentication_failed");
    const noScope = await keyWithScopes(owner, ["organization:read"]);
    expect((await call(members(owner), { key: noScope })).status).toBe(403);
    const stranger = await addMember(owner, 15);
    const other = await otherOrganization(stranger);
    expect((await call(`/api/organizations/${other.organizationId}/members/`, { key: owner.key })).status).toBe(404);
  });
});
