import { eq } from "drizzle-orm";
import { approvalGate, changeIntent } from "../approvals";
import { commitWithActivity, createdChange, writeContext } from "../audit/record";
import { organizationAccess } from "../auth/access";
import type { Organization } from "../auth/context";
import { MembershipLevel } from "../auth/levels";
import { createDb } from "../db/client";
import { organizationMemberships, organizations, projects } from "../db/schema";
import { createRouter } from "../http/router";
import { conflict, isUniqueViolation, permissionDenied } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { limitOffsetPage } from "../lib/pagination";
import { isoRequired } from "../lib/time";
import { newProject } from "../projects";
import { listOrganizationsForUser, loadOrganizationRelations, serializeOrganization, uniqueSlug } from "./organizations.queries";
import { createOrganization, deleteOrganization, getOrganization, listOrganizations, updateOrganization } from "./organizations.routes";
import {
  assertDefaultRoleInOrganization,
  columnValues,
  planOrganizationDelete,
  planOrganizationUpdate,
  SCOPE,
} from "./organizations.service";

/** Tries at a free slug before a 409: each lost race means another create of the same name won. */
const SLUG_ATTEMPTS = 10;

const organizationTarget = (organization: Organization) => [{ organizationId: organization.id, teamId: null }];

async function present(db: ReturnType<typeof createDb>, organizationId: string, level: number) {
  const [org] = await db.select().from(organizations).where(eq(organizations.id, organizationId));
  if (!org) throw new Error(`organization ${organizationId} vanished`);
  return serializeOrganization(org, level, await loadOrganizationRelations(db, [org.id]));
}

export const organizationsRouter = createRouter()
  .openapi(listOrganizations, async (c) => {
    const db = createDb(c.env.DB);
    const page = c.req.valid("query");
    const { scopedOrganizations } = c.var.auth.key;
    const { rows, count } = await listOrganizationsForUser(db, c.var.auth.user.id, scopedOrganizations, page.limit, page.offset);
    const relations = await loadOrganizationRelations(
      db,
      rows.map((r) => r.organization.id),
    );
    const results = rows.map((r) => serializeOrganization(r.organization, r.level, relations));
    return c.json(limitOffsetPage(c.req.url, page, count, results), 200);
  })
  .openapi(createOrganization, async (c) => {
    if (c.var.auth.key.scopedOrganizations?.length) {
      throw permissionDenied("API keys restricted to organizations cannot create organizations they would not reach.");
    }
    const db = createDb(c.env.DB);
    const body = c.req.valid("json");
    await assertDefaultRoleInOrganization(db, null, body);
    const now = new Date();
    const id = uuidv7();
    const project = newProject(id, "Default project", body.timezone);
    // Simultaneous creates with one name all read the same free slug; the UNIQUE index lets one
    // insert it and the others take the next free one.
    for (let attempt = 1; ; attempt++) {
      try {
        await commitWithActivity(
          writeContext(c, db),
          [
            db.insert(organizations).values({
              ...columnValues(body),
              id,
              name: body.name,
              slug: await uniqueSlug(db, body.name),
              createdAt: now,
              updatedAt: now,
            }),
            db.insert(organizationMemberships).values({
              id: uuidv7(),
              organizationId: id,
              userId: c.var.auth.user.id,
              level: MembershipLevel.owner,
              joinedAt: now,
              updatedAt: now,
            }),
            db.insert(projects).values(project.values),
          ],
          [
            {
              organizationId: id,
              scope: SCOPE,
              activity: "created",
              itemId: id,
              detail: { name: body.name, changes: createdChange(SCOPE) },
            },
            {
              organizationId: id,
              teamId: project.idSql,
              scope: "Project",
              activity: "created",
              itemId: project.idSql,
              detail: { name: project.values.name, changes: createdChange("Project") },
            },
          ],
        );
        break;
      } catch (error) {
        if (!isUniqueViolation(error, "organizations.slug")) throw error;
        if (attempt === SLUG_ATTEMPTS) throw conflict("slug_taken", "Another organization took this slug at the same moment; try again.");
      }
    }
    return c.json(await present(db, id, MembershipLevel.owner), 201);
  })
  .openapi(getOrganization, async (c) => {
    const { organization, level } = await organizationAccess(c, c.req.valid("param").id);
    const relations = await loadOrganizationRelations(createDb(c.env.DB), [organization.id]);
    return c.json(serializeOrganization(organization, level, relations), 200);
  })
  .openapi(updateOrganization, async (c) => {
    const { organization, level } = await organizationAccess(c, c.req.valid("param").id, MembershipLevel.admin);
    const db = createDb(c.env.DB);
    const body = c.req.valid("json");
    await assertDefaultRoleInOrganization(db, organization.id, body);
    const plan = planOrganizationUpdate(db, organization, body);
    if (plan) {
      await approvalGate(c, {
        actionKey: "organization.update",
        targets: organizationTarget(organization),
        resourceId: organization.id,
        intent: changeIntent({
          name: organization.name,
          before: Object.fromEntries(plan.changes.map((ch) => [ch.field, ch.before])),
          after: Object.fromEntries(plan.changes.map((ch) => [ch.field, ch.after])),
          request: body,
          preconditions: { updated_at: isoRequired(organization.updatedAt) },
          method: "PATCH",
        }),
      });
      await commitWithActivity(writeContext(c, db), plan.writes, plan.entries);
    }
    return c.json(await present(db, organization.id, level), 200);
  })
  .openapi(deleteOrganization, async (c) => {
    const { organization } = await organizationAccess(c, c.req.valid("param").id, MembershipLevel.owner);
    const db = createDb(c.env.DB);
    await approvalGate(c, {
      actionKey: "organization.delete",
      targets: organizationTarget(organization),
      resourceId: organization.id,
      intent: changeIntent({
        name: organization.name,
        before: { name: organization.name },
        after: {},
        request: {},
        preconditions: { updated_at: isoRequired(organization.updatedAt) },
        method: "DELETE",
      }),
    });
    const plan = planOrganizationDelete(db, organization);
    await commitWithActivity(writeContext(c, db), plan.writes, plan.entries);
    return c.body(null, 204);
  });
