import { and, eq, inArray } from "drizzle-orm";
import { createDb } from "../db/client";
import { inList } from "../db/in-list";
import { organizationMemberships, organizations, projects } from "../db/schema";
import { createRouter } from "../http/router";
import { getMe } from "./users.routes";
import { serializeUserBasic } from "./users.schemas";

export const usersRouter = createRouter().openapi(getMe, async (c) => {
  const { user, key } = c.var.auth;
  const db = createDb(c.env.DB);
  // A restricted key sees only the organizations it reaches (those of its projects, for a project-scoped key).
  const reached = key.scopedTeams?.length
    ? inArray(
        organizations.id,
        db.selectDistinct({ id: projects.organizationId }).from(projects).where(inList(projects.id, key.scopedTeams)),
      )
    : key.scopedOrganizations?.length
      ? inList(organizations.id, key.scopedOrganizations)
      : undefined;
  const memberships = await db
    .select({ id: organizations.id, name: organizations.name, slug: organizations.slug, membership_level: organizationMemberships.level })
    .from(organizationMemberships)
    .innerJoin(organizations, eq(organizations.id, organizationMemberships.organizationId))
    .where(and(eq(organizationMemberships.userId, user.id), reached))
    .orderBy(organizationMemberships.joinedAt);
  return c.json({ ...serializeUserBasic(user), organizations: memberships, organization: memberships[0] ?? null }, 200);
});
