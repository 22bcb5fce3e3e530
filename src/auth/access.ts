import { and, eq } from "drizzle-orm";
import type { Context } from "hono";
import { createDb } from "../db/client";
import { organizationMemberships, organizations, projects } from "../db/schema";
import type { AppBindings } from "../env";
import { notFound, permissionDenied } from "../lib/errors";
import { MembershipLevel } from "./levels";

export type Organization = typeof organizations.$inferSelect;
export type Project = typeof projects.$inferSelect;

export interface OrganizationAccess {
  organization: Organization;
  level: number;
}
export interface ProjectAccess extends OrganizationAccess {
  project: Project;
}

function assertKeyAllowsOrganization(c: Context<AppBindings>, organizationId: string) {
  const scoped = c.var.auth.key.scopedOrganizations;
  if (scoped?.length && !scoped.includes(organizationId)) {
    throw permissionDenied("API key does not have access to the requested organization.");
  }
}

function assertLevel(level: number, minLevel: number) {
  if (level < minLevel) {
    const needed = minLevel >= MembershipLevel.owner ? "an owner" : "an admin";
    throw permissionDenied(`You must be ${needed} of this organization to do this.`);
  }
}

/** The caller's membership in an organization: 404 when not a member (existence is not leaked). */
export async function organizationAccess(
  c: Context<AppBindings>,
  organizationId: string,
  minLevel: number = MembershipLevel.member,
): Promise<OrganizationAccess> {
  const [row] = await createDb(c.env.DB)
    .select({ organization: organizations, level: organizationMemberships.level })
    .from(organizations)
    .innerJoin(
      organizationMemberships,
      and(eq(organizationMemberships.organizationId, organizations.id), eq(organizationMemberships.userId, c.var.auth.user.id)),
    )
    .where(eq(organizations.id, organizationId))
    .limit(1);
  if (!row) throw notFound();
  assertKeyAllowsOrganization(c, organizationId);
  assertLevel(row.level, minLevel);
  return row;
}

/** A project the caller may reach through its organization membership and the key's restrictions. */
export async function projectAccess(
  c: Context<AppBindings>,
  projectId: number | string,
  minLevel: number = MembershipLevel.member,
): Promise<ProjectAccess> {
  const id = typeof projectId === "number" ? projectId : Number(projectId);
  if (!Number.isSafeInteger(id)) throw notFound();
  const [row] = await createDb(c.env.DB)
    .select({ project: projects, organization: organizations, level: organizationMemberships.level })
    .from(projects)
    .innerJoin(organizations, eq(organizations.id, projects.organizationId))
    .innerJoin(
      organizationMemberships,
      and(eq(organizationMemberships.organizationId, projects.organizationId), eq(organizationMemberships.userId, c.var.auth.user.id)),
    )
    .where(eq(projects.id, id))
    .limit(1);
  if (!row) throw notFound();
  assertKeyAllowsOrganization(c, row.organization.id);
  const scopedTeams = c.var.auth.key.scopedTeams;
  if (scopedTeams?.length && !scopedTeams.includes(row.project.id)) {
    throw permissionDenied("API key does not have access to the requested project.");
  }
  assertLevel(row.level, minLevel);
  return row;
}
