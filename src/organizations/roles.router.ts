import { and, count, eq } from "drizzle-orm";
import { commitWithActivity, createdChange, deletedChange, diffChanges, writeContext } from "../audit/record";
import { organizationAccess } from "../auth/access";
import { MembershipLevel } from "../auth/levels";
import { createDb } from "../db/client";
import { inList } from "../db/in-list";
import { organizationMemberships, roleMemberships, roles, users } from "../db/schema";
import { createRouter } from "../http/router";
import { isUniqueViolation, notFound, validationError } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { limitOffsetPage } from "../lib/pagination";
import { isoRequired } from "../lib/time";
import { serializeUserBasic } from "../users";
import {
  addRoleMembership,
  createRole,
  deleteRole,
  getRole,
  listRoleMemberships,
  listRoles,
  removeRoleMembership,
  updateRole,
} from "./roles.routes";

const SCOPE = "Role";

type Db = ReturnType<typeof createDb>;
type RoleRow = typeof roles.$inferSelect;

async function membershipsOf(db: Db, roleIds: string[]) {
  if (!roleIds.length) return [];
  return db
    .select({ membership: roleMemberships, user: users })
    .from(roleMemberships)
    .innerJoin(users, eq(users.id, roleMemberships.userId))
    .where(inList(roleMemberships.roleId, roleIds))
    .orderBy(roleMemberships.joinedAt);
}

function serializeRoleMembership(row: { membership: typeof roleMemberships.$inferSelect; user: typeof users.$inferSelect }) {
  return {
    id: row.membership.id,
    role_id: row.membership.roleId,
    user: serializeUserBasic(row.user),
    joined_at: isoRequired(row.membership.joinedAt),
  };
}

/** Roles with creators and members in three queries, whatever the page size. */
async function serializeRoles(db: Db, rows: RoleRow[], defaultRoleId: string | null) {
  const creatorIds = [...new Set(rows.map((r) => r.createdById).filter((id): id is number => id !== null))];
  const [creators, members] = await Promise.all([
    creatorIds.length ? db.select().from(users).where(inList(users.id, creatorIds)) : Promise.resolve([]),
    membershipsOf(
      db,
      rows.map((r) => r.id),
    ),
  ]);
  const creatorById = new Map(creators.map((u) => [u.id, u]));
  return rows.map((role) => {
    const creator = role.createdById === null ? undefined : creatorById.get(role.createdById);
    return {
      id: role.id,
      name: role.name,
      created_at: isoRequired(role.createdAt),
      created_by: creator ? serializeUserBasic(creator) : null,
      members: members.filter((m) => m.membership.roleId === role.id).map(serializeRoleMembership),
      is_default: role.id === defaultRoleId,
    };
  });
}

async function findRole(db: Db, organizationId: string, roleId: string): Promise<RoleRow> {
  const [role] = await db
    .select()
    .from(roles)
    .where(and(eq(roles.id, roleId), eq(roles.organizationId, organizationId)));
  if (!role) throw notFound();
  return role;
}

const nameTaken = () => validationError("There is already a role with this name.", "name", "unique");

async function assertNameFree(db: Db, organizationId: string, name: string) {
  const [taken] = await db
    .select({ id: roles.id })
    .from(roles)
    .where(and(eq(roles.organizationId, organizationId), eq(roles.name, name)));
  if (taken) throw nameTaken();
}

/** The same answer when a simultaneous create or rename took the name between the check and the write. */
async function withNameFree<T>(write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (error) {
    if (isUniqueViolation(error, "roles.name")) throw nameTaken();
    throw error;
  }
}

export const rolesRouter = createRouter()
  .openapi(listRoles, async (c) => {
    const { organization } = await organizationAccess(c, c.req.valid("param").id);
    const page = c.req.valid("query");
    const db = createDb(c.env.DB);
    const inOrg = eq(roles.organizationId, organization.id);
    const [rows, [total]] = await Promise.all([
      db.select().from(roles).where(inOrg).orderBy(roles.name).limit(page.limit).offset(page.offset),
      db.select({ n: count() }).from(roles).where(inOrg),
    ]);
    const results = await serializeRoles(db, rows, organization.defaultRoleId);
    return c.json(limitOffsetPage(c.req.url, page, total?.n ?? 0, results), 200);
  })
  .openapi(createRole, async (c) => {
    const { organization } = await organizationAccess(c, c.req.valid("param").id, MembershipLevel.admin);
    const { name } = c.req.valid("json");
    const db = createDb(c.env.DB);
    await assertNameFree(db, organization.id, name);
    const role = { id: uuidv7(), organizationId: organization.id, name, createdById: c.var.auth.user.id, createdAt: new Date() };
    await withNameFree(
      commitWithActivity(
        writeContext(c, db),
        [db.insert(roles).values(role)],
        [
          {
            organizationId: organization.id,
            scope: SCOPE,
            activity: "created",
            itemId: role.id,
            detail: { name, changes: createdChange(SCOPE) },
          },
        ],
      ),
    );
    const [result] = await serializeRoles(db, [role], organization.defaultRoleId);
    return c.json(result!, 201);
  })
  .openapi(getRole, async (c) => {
    const params = c.req.valid("param");
    const { organization } = await organizationAccess(c, params.id);
    const db = createDb(c.env.DB);
    const [result] = await serializeRoles(db, [await findRole(db, organization.id, params.role_id)], organization.defaultRoleId);
    return c.json(result!, 200);
  })
  .openapi(updateRole, async (c) => {
    const params = c.req.valid("param");
    const { organization } = await organizationAccess(c, params.id, MembershipLevel.admin);
    const { name } = c.req.valid("json");
    const db = createDb(c.env.DB);
    const role = await findRole(db, organization.id, params.role_id);
    if (name !== role.name) {
      await assertNameFree(db, organization.id, name);
      await withNameFree(
        commitWithActivity(
          writeContext(c, db),
          [db.update(roles).set({ name }).where(eq(roles.id, role.id))],
          [
            {
              organizationId: organization.id,
              scope: SCOPE,
              activity: "updated",
              itemId: role.id,
              detail: { name, changes: diffChanges(SCOPE, { name: role.name }, { name }) },
            },
          ],
        ),
      );
    }
    const [result] = await serializeRoles(db, [{ ...role, name }], organization.defaultRoleId);
    return c.json(result!, 200);
  })
  .openapi(deleteRole, async (c) => {
    const params = c.req.valid("param");
    const { organization } = await organizationAccess(c, params.id, MembershipLevel.admin);
    const db = createDb(c.env.DB);
    const role = await findRole(db, organization.id, params.role_id);
    await commitWithActivity(
      writeContext(c, db),
      [db.delete(roles).where(eq(roles.id, role.id))],
      [
        {
          organizationId: organization.id,
          scope: SCOPE,
          activity: "deleted",
          itemId: role.id,
          detail: { name: role.name, changes: deletedChange(SCOPE) },
        },
      ],
    );
    return c.body(null, 204);
  })
  .openapi(listRoleMemberships, async (c) => {
    const params = c.req.valid("param");
    const { organization } = await organizationAccess(c, params.id);
    const page = c.req.valid("query");
    const db = createDb(c.env.DB);
    const role = await findRole(db, organization.id, params.role_id);
    const all = await membershipsOf(db, [role.id]);
    const results = all.slice(page.offset, page.offset + page.limit).map(serializeRoleMembership);
    return c.json(limitOffsetPage(c.req.url, page, all.length, results), 200);
  })
  .openapi(addRoleMembership, async (c) => {
    const params = c.req.valid("param");
    const { organization } = await organizationAccess(c, params.id, MembershipLevel.admin);
    const { user_uuid } = c.req.valid("json");
    const db = createDb(c.env.DB);
    const role = await findRole(db, organization.id, params.role_id);
    const [member] = await db
      .select({ user: users })
      .from(users)
      .innerJoin(organizationMemberships, eq(organizationMemberships.userId, users.id))
      .where(and(eq(users.uuid, user_uuid), eq(organizationMemberships.organizationId, organization.id)));
    if (!member) throw validationError("User is not a member of this organization.", "user_uuid");
    const [already] = await db
      .select({ id: roleMemberships.id })
      .from(roleMemberships)
      .where(and(eq(roleMemberships.roleId, role.id), eq(roleMemberships.userId, member.user.id)));
    if (already) throw validationError("User is already a member of this role.", "user_uuid", "unique");
    const membership = { id: uuidv7(), roleId: role.id, userId: member.user.id, joinedAt: new Date() };
    await commitWithActivity(
      writeContext(c, db),
      [db.insert(roleMemberships).values(membership)],
      [
        {
          organizationId: organization.id,
          scope: SCOPE,
          activity: "member_added",
          itemId: role.id,
          detail: { name: role.name, changes: [{ type: SCOPE, action: "changed", field: "members", after: member.user.email }] },
        },
      ],
    );
    return c.json(serializeRoleMembership({ membership, user: member.user }), 201);
  })
  .openapi(removeRoleMembership, async (c) => {
    const params = c.req.valid("param");
    const { organization } = await organizationAccess(c, params.id, MembershipLevel.admin);
    const db = createDb(c.env.DB);
    const role = await findRole(db, organization.id, params.role_id);
    const [row] = await db
      .select({ membership: roleMemberships, user: users })
      .from(roleMemberships)
      .innerJoin(users, eq(users.id, roleMemberships.userId))
      .where(and(eq(roleMemberships.id, params.membership_id), eq(roleMemberships.roleId, role.id)));
    if (!row) throw notFound();
    await commitWithActivity(
      writeContext(c, db),
      [db.delete(roleMemberships).where(eq(roleMemberships.id, row.membership.id))],
      [
        {
          organizationId: organization.id,
          scope: SCOPE,
          activity: "member_removed",
          itemId: role.id,
          detail: { name: role.name, changes: [{ type: SCOPE, action: "changed", field: "members", before: row.user.email }] },
        },
      ],
    );
    return c.body(null, 204);
  });
