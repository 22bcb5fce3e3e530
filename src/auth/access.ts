import { and, eq } from "drizzle-orm";
import type { Context } from "hono";
import { createDb, type Db } from "../db/client";
import { organizationMemberships, organizations, projects } from "../db/schema";
import { notFound, permissionDenied } from "../lib/errors";
import { decimalId } from "../lib/path-params";
import { normalizePath } from "../lib/paths";
import type { AccessTarget, AppBindings, Organization, OrganizationAccess, ProjectAccess } from "./context";
import { MembershipLevel, type RouteLevel } from "./levels";

/** `/api/projects/@current/...`: the project a client means when it names none (see `currentProjectSql`). */
export const CURRENT_PROJECT = "@current";

export function accessTargetOf(path: string): AccessTarget | null {
  const match = /^\/api\/(projects|organizations)\/([^/]+)/.exec(path);
  if (!match?.[2]) return null;
  if (match[1] === "organizations") {
    try {
      return { kind: "organization", id: decodeURIComponent(match[2]) };
    } catch {
      // Not valid percent-encoding: no organization has that id; the route answers for itself.
      return null;
    }
  }
  if (match[2] === CURRENT_PROJECT) return { kind: "project", id: CURRENT_PROJECT };
  const id = decimalId(match[2]);
  return id === null ? null : { kind: "project", id };
}

function organizationAccessQuery(db: Db, organizationId: string, userId: number) {
  return db
    .select({ organization: organizations, level: organizationMemberships.level })
    .from(organizations)
    .innerJoin(
      organizationMemberships,
      and(eq(organizationMemberships.organizationId, organizations.id), eq(organizationMemberships.userId, userId)),
    )
    .where(eq(organizations.id, organizationId))
    .limit(1);
}

function projectAccessQuery(db: Db, projectId: number, userId: number) {
  return db
    .select({ project: projects, organization: organizations, level: organizationMemberships.level })
    .from(projects)
    .innerJoin(organizations, eq(organizations.id, projects.organizationId))
    .innerJoin(
      organizationMemberships,
      and(eq(organizationMemberships.organizationId, projects.organizationId), eq(organizationMemberships.userId, userId)),
    )
    .where(eq(projects.id, projectId))
    .limit(1);
}

function assertKeyAllowsOrganization(c: Context<AppBindings>, organizationId: string) {
  const scoped = c.var.auth.key.scopedOrganizations;
  if (scoped?.length && !scoped.includes(organizationId)) {
    throw permissionDenied("API key does not have access to the requested organization.");
  }
}

/** PostHog's rule: a key restricted to projects has no organization-level access at all. */
export function assertNotProjectScoped(c: Context<AppBindings>) {
  if (c.var.auth.key.scopedTeams?.length) {
    throw permissionDenied("API keys with scoped projects are only supported on project-based views.");
  }
}

/**
 * An organization may keep its members' personal API keys out (`members_can_use_personal_api_keys`):
 * PostHog still lets admins and owners use theirs.
 */
function assertKeysAllowed(organization: Organization, level: number) {
  if (!organization.membersCanUsePersonalApiKeys && level < MembershipLevel.admin) {
    throw permissionDenied("This organization does not allow members to use personal API keys.");
  }
}

function assertLevel(level: number, minLevel: number) {
  if (level < minLevel) {
    const needed = minLevel >= MembershipLevel.owner ? "an owner" : "an admin";
    throw permissionDenied(`You must be ${needed} of this organization to do this.`);
  }
}

/**
 * A one-trip route that needs the caller before it has read anything (a path its one batch cannot
 * serve): the key lookup now, on its own, with the route's checks. Elsewhere a no-op.
 */
export async function authenticated(c: Context<AppBindings>) {
  await keyLookedUp(c);
}

async function keyLookedUp(c: Context<AppBindings>) {
  const pending = c.var.oneTrip;
  if (pending && !pending.resolved) await pending.resolveAlone();
}

/**
 * A project id from a path, for a read that runs before `projectAccess`: 404 when it cannot name a
 * project. `@current` is known only once the key is (`oneTripAuth` looks it up first for such paths).
 */
export function projectIdOf(c: Context<AppBindings>, projectId: number | string): number {
  if (projectId === CURRENT_PROJECT) {
    const prefetched = c.var.prefetchedAccess;
    const row = prefetched?.kind === "project" && prefetched.id === CURRENT_PROJECT ? prefetched.row : undefined;
    if (!row) throw notFound();
    return row.project.id;
  }
  const id = typeof projectId === "number" ? projectId : decimalId(projectId);
  if (id === null || !Number.isSafeInteger(id)) throw notFound();
  return id;
}

/** The caller's membership in an organization: 404 when not a member (existence is not leaked). */
export async function organizationAccess(
  c: Context<AppBindings>,
  organizationId: string,
  minLevel: number = MembershipLevel.member,
): Promise<OrganizationAccess> {
  await keyLookedUp(c);
  const prefetched = c.var.prefetchedAccess;
  const row =
    prefetched?.kind === "organization" && prefetched.id === organizationId
      ? prefetched.row
      : (await organizationAccessQuery(createDb(c.env.DB), organizationId, c.var.auth.user.id))[0];
  if (!row) throw notFound();
  assertKeyAllowsOrganization(c, organizationId);
  assertNotProjectScoped(c);
  assertKeysAllowed(row.organization, row.level);
  assertLevel(row.level, minLevel);
  return row;
}

/** A project the caller may reach through its organization membership and the key's restrictions. */
export async function projectAccess(
  c: Context<AppBindings>,
  projectId: number | string,
  minLevel: number = MembershipLevel.member,
): Promise<ProjectAccess> {
  await keyLookedUp(c);
  const prefetched = c.var.prefetchedAccess;
  let row: ProjectAccess | undefined;
  if (projectId === CURRENT_PROJECT) {
    // Resolved only by `authenticate`'s read-ahead, the one place that sees the key's restrictions in SQL.
    row = prefetched?.kind === "project" && prefetched.id === CURRENT_PROJECT ? prefetched.row : undefined;
  } else {
    const id = typeof projectId === "number" ? projectId : decimalId(projectId);
    if (id === null || !Number.isSafeInteger(id)) throw notFound();
    row =
      prefetched?.kind === "project" && prefetched.id === id
        ? prefetched.row
        : (await projectAccessQuery(createDb(c.env.DB), id, c.var.auth.user.id))[0];
  }
  if (!row) throw notFound();
  assertKeyAllowsOrganization(c, row.organization.id);
  assertKeysAllowed(row.organization, row.level);
  const scopedTeams = c.var.auth.key.scopedTeams;
  if (scopedTeams?.length && !scopedTeams.includes(row.project.id)) {
    throw permissionDenied("API key does not have access to the requested project.");
  }
  assertLevel(row.level, minLevel);
  return row;
}

/** Every organization route, the list and create ones included, is out of a project-scoped key's reach. */
export const ORGANIZATION_ROUTES = /^\/api\/organizations(\/|$)/;

/**
 * What a route's level demands of the caller (`secured(scope, level)`), once the key is known: no
 * project-scoped key on organization routes, and membership of the path's organization or project
 * at `level` (404 when not a member, 403 when the key's restrictions or the level refuse).
 */
export async function assertRouteLevel(c: Context<AppBindings>, level: RouteLevel) {
  const path = normalizePath(new URL(c.req.url).pathname);
  if (ORGANIZATION_ROUTES.test(path)) assertNotProjectScoped(c);
  if (level === "user") return;
  const target = accessTargetOf(path);
  if (!target) throw notFound();
  const minLevel = MembershipLevel[level];
  if (target.kind === "project") await projectAccess(c, target.id, minLevel);
  else await organizationAccess(c, target.id, minLevel);
}
