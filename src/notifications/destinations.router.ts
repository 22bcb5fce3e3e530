import type { Context } from "hono";
import { organizationAccess, projectAccess } from "../auth/access";
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
import type { DestinationOwner } from "./destinations.queries";
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

export const projectDestinationsRouter = createRouter()
  .openapi(P.list, async (c) => {
    const owner = await projectOwner(c, c.req.valid("param").project_id, member);
    return c.json(await listDestinations(c, owner, c.req.valid("query")), 200);
  })
  .openapi(P.create, async (c) => {
    const owner = await projectOwner(c, c.req.valid("param").project_id, admin);
    return c.json(await createDestination(c, owner, c.req.valid("json")), 201);
  })
  .openapi(P.get, async (c) => {
    const { project_id, destination_id } = c.req.valid("param");
    return c.json(await getDestination(c, await projectOwner(c, project_id, member), destination_id), 200);
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
    return c.json(await listDeliveries(c, await projectOwner(c, project_id, member), destination_id, c.req.valid("query")), 200);
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
    const owner = await organizationOwner(c, c.req.valid("param").id);
    return c.json(await listDestinations(c, owner, c.req.valid("query")), 200);
  })
  .openapi(O.create, async (c) => {
    const owner = await organizationOwner(c, c.req.valid("param").id);
    return c.json(await createDestination(c, owner, c.req.valid("json")), 201);
  })
  .openapi(O.get, async (c) => {
    const { id, destination_id } = c.req.valid("param");
    return c.json(await getDestination(c, await organizationOwner(c, id), destination_id), 200);
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
    return c.json(await listDeliveries(c, await organizationOwner(c, id), destination_id, c.req.valid("query")), 200);
  })
  .openapi(O.redeliver, async (c) => {
    const { id, destination_id, delivery_id } = c.req.valid("param");
    return c.json(await redeliver(c, await organizationOwner(c, id), destination_id, delivery_id), 202);
  })
  .openapi(O.bulkRedeliver, async (c) => {
    const { id, destination_id } = c.req.valid("param");
    return c.json(await bulkRedeliver(c, await organizationOwner(c, id), destination_id, c.req.valid("json")), 202);
  });
