import { sql } from "drizzle-orm";
import type { Context } from "hono";
import { organizationAccess, projectAccess, projectIdOf } from "../auth/access";
import type { AppBindings } from "../auth/context";
import { MembershipLevel } from "../auth/levels";
import { createRouter } from "../http/router";
import {
  bulkRedeliver,
  createDestination,
  deleteDestination,
  getDestination,
  listDeliveries,
  listDestinations,
  redeliver,
  rotateSecret,
  testDestination,
  updateDestination,
} from "./destinations.handlers";
import type { DestinationOwner, DestinationScope } from "./destinations.queries";
import { organizationDestinationRoutes as O, projectDestinationRoutes as P } from "./destinations.routes";

type Ctx = Context<AppBindings>;
const { member, admin } = MembershipLevel;

async function projectOwner(c: Ctx, projectId: string, level: number): Promise<DestinationOwner> {
  const { project } = await projectAccess(c, projectId, level);
  return { organizationId: project.organizationId, teamId: project.id };
}

/** Organization destinations carry organization-wide activity, which only admins may read. */
async function organizationOwner(c: Ctx, organizationId: string): Promise<DestinationOwner> {
  const { organization } = await organizationAccess(c, organizationId, admin);
  return { organizationId: organization.id, teamId: null };
}

/**
 * A one-trip read of a project's destinations: the project by its id, its organization inside the
 * statements; `after` checks access once the batch is back (the lookup's row, no D1).
 */
function projectScope(c: Ctx, projectId: string): { scope: DestinationScope; after: () => Promise<unknown> } {
  const id = projectIdOf(c, projectId);
  return {
    scope: { organizationId: sql`(SELECT organization_id FROM projects WHERE id = ${id})`, teamId: id },
    after: () => projectAccess(c, id, member),
  };
}

/** The same for an organization's destinations (admins). */
function organizationScope(c: Ctx, organizationId: string): { scope: DestinationScope; after: () => Promise<unknown> } {
  return { scope: { organizationId, teamId: null }, after: () => organizationAccess(c, organizationId, admin) };
}

/** Reads through `scope`, then checks access (on a one-trip route the batch's key check has already answered). */
async function read<T>(target: { scope: DestinationScope; after: () => Promise<unknown> }, work: (scope: DestinationScope) => Promise<T>) {
  const result = await work(target.scope);
  await target.after();
  return result;
}

export const projectDestinationsRouter = createRouter()
  .openapi(P.list, async (c) => {
    const target = projectScope(c, c.req.valid("param").project_id);
    return c.json(await read(target, (scope) => listDestinations(c, scope, c.req.valid("query"))), 200);
  })
  .openapi(P.create, async (c) => {
    const owner = await projectOwner(c, c.req.valid("param").project_id, admin);
    return c.json(await createDestination(c, owner, c.req.valid("json")), 201);
  })
  .openapi(P.get, async (c) => {
    const { project_id, destination_id } = c.req.valid("param");
    return c.json(await read(projectScope(c, project_id), (scope) => getDestination(c, scope, destination_id)), 200);
  })
  .openapi(P.update, async (c) => {
    const { project_id, destination_id } = c.req.valid("param");
    return c.json(await updateDestination(c, await projectOwner(c, project_id, admin), destination_id, c.req.valid("json")), 200);
  })
  .openapi(P.remove, async (c) => {
    const { project_id, destination_id } = c.req.valid("param");
    await deleteDestination(c, await projectOwner(c, project_id, admin), destination_id);
    return c.body(null, 204);
  })
  .openapi(P.rotate, async (c) => {
    const { project_id, destination_id } = c.req.valid("param");
    return c.json(await rotateSecret(c, await projectOwner(c, project_id, admin), destination_id), 200);
  })
  .openapi(P.test, async (c) => {
    const { project_id, destination_id } = c.req.valid("param");
    return c.json(await testDestination(c, await projectOwner(c, project_id, admin), destination_id), 200);
  })
  .openapi(P.deliveries, async (c) => {
    const { project_id, destination_id } = c.req.valid("param");
    const target = projectScope(c, project_id);
    return c.json(await read(target, (scope) => listDeliveries(c, scope, destination_id, c.req.valid("query"))), 200);
  })
  .openapi(P.redeliver, async (c) => {
    const { project_id, destination_id, delivery_id } = c.req.valid("param");
    return c.json(await redeliver(c, await projectOwner(c, project_id, admin), destination_id, delivery_id), 202);
  })
  .openapi(P.bulkRedeliver, async (c) => {
    const { project_id, destination_id } = c.req.valid("param");
    return c.json(await bulkRedeliver(c, await projectOwner(c, project_id, admin), destination_id, c.req.valid("json")), 202);
  });

export const organizationDestinationsRouter = createRouter()
  .openapi(O.list, async (c) => {
    const target = organizationScope(c, c.req.valid("param").id);
    return c.json(await read(target, (scope) => listDestinations(c, scope, c.req.valid("query"))), 200);
  })
  .openapi(O.create, async (c) => {
    const owner = await organizationOwner(c, c.req.valid("param").id);
    return c.json(await createDestination(c, owner, c.req.valid("json")), 201);
  })
  .openapi(O.get, async (c) => {
    const { id, destination_id } = c.req.valid("param");
    return c.json(await read(organizationScope(c, id), (scope) => getDestination(c, scope, destination_id)), 200);
  })
  .openapi(O.update, async (c) => {
    const { id, destination_id } = c.req.valid("param");
    return c.json(await updateDestination(c, await organizationOwner(c, id), destination_id, c.req.valid("json")), 200);
  })
  .openapi(O.remove, async (c) => {
    const { id, destination_id } = c.req.valid("param");
    await deleteDestination(c, await organizationOwner(c, id), destination_id);
    return c.body(null, 204);
  })
  .openapi(O.rotate, async (c) => {
    const { id, destination_id } = c.req.valid("param");
    return c.json(await rotateSecret(c, await organizationOwner(c, id), destination_id), 200);
  })
  .openapi(O.test, async (c) => {
    const { id, destination_id } = c.req.valid("param");
    return c.json(await testDestination(c, await organizationOwner(c, id), destination_id), 200);
  })
  .openapi(O.deliveries, async (c) => {
    const { id, destination_id } = c.req.valid("param");
    const target = organizationScope(c, id);
    return c.json(await read(target, (scope) => listDeliveries(c, scope, destination_id, c.req.valid("query"))), 200);
  })
  .openapi(O.redeliver, async (c) => {
    const { id, destination_id, delivery_id } = c.req.valid("param");
    return c.json(await redeliver(c, await organizationOwner(c, id), destination_id, delivery_id), 202);
  })
  .openapi(O.bulkRedeliver, async (c) => {
    const { id, destination_id } = c.req.valid("param");
    return c.json(await bulkRedeliver(c, await organizationOwner(c, id), destination_id, c.req.valid("json")), 202);
  });
