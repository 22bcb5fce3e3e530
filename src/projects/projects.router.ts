import { and, count, eq, type SQL } from "drizzle-orm";
import { approvalGate, changeIntent } from "../approvals";
import { commitWithActivity, createdChange, diffChanges, writeContext } from "../audit/record";
import { organizationAccess, projectAccess } from "../auth/access";
import { MembershipLevel } from "../auth/levels";
import { createDb } from "../db/client";
import { inList } from "../db/in-list";
import { organizationMemberships, projects } from "../db/schema";
import { createRouter } from "../http/router";
import { notFound } from "../lib/errors";
import { limitOffsetPage } from "../lib/pagination";
import { isoRequired } from "../lib/time";
import { forgetProjectToken } from "../logs";
import { newApiToken, newProject, serializeProject } from "./projects.queries";
import { createProject, deleteProject, getProject, listProjects, resetProjectToken, updateProject } from "./projects.routes";
import { planProjectDelete, SCOPE } from "./projects.service";

async function reload(db: ReturnType<typeof createDb>, id: number) {
  const [project] = await db.select().from(projects).where(eq(projects.id, id));
  if (!project) throw notFound();
  return serializeProject(project);
}

export const projectsRouter = createRouter()
  .openapi(listProjects, async (c) => {
    const db = createDb(c.env.DB);
    const page = c.req.valid("query");
    const { scopedOrganizations, scopedTeams } = c.var.auth.key;
    const conditions: SQL[] = [eq(organizationMemberships.userId, c.var.auth.user.id)];
    if (scopedOrganizations?.length) conditions.push(inList(projects.organizationId, scopedOrganizations));
    if (scopedTeams?.length) conditions.push(inList(projects.id, scopedTeams));
    const visible = and(...conditions);
    const base = () =>
      db
        .select({ project: projects })
        .from(projects)
        .innerJoin(organizationMemberships, eq(organizationMemberships.organizationId, projects.organizationId));
    const [rows, [total]] = await Promise.all([
      base().where(visible).orderBy(projects.id).limit(page.limit).offset(page.offset),
      db
        .select({ n: count() })
        .from(projects)
        .innerJoin(organizationMemberships, eq(organizationMemberships.organizationId, projects.organizationId))
        .where(visible),
    ]);
    const results = rows.map((r) => serializeProject(r.project));
    return c.json(limitOffsetPage(c.req.url, page, total?.n ?? 0, results), 200);
  })
  .openapi(createProject, async (c) => {
    const db = createDb(c.env.DB);
    const body = c.req.valid("json");
    let organizationId = body.organization;
    if (!organizationId) {
      const { scopedOrganizations } = c.var.auth.key;
      const [first] = await db
        .select({ id: organizationMemberships.organizationId })
        .from(organizationMemberships)
        .where(
          and(
            eq(organizationMemberships.userId, c.var.auth.user.id),
            scopedOrganizations?.length ? inList(organizationMemberships.organizationId, scopedOrganizations) : undefined,
          ),
        )
        .orderBy(organizationMemberships.joinedAt)
        .limit(1);
      if (!first) throw notFound("You are not a member of any organization.");
      organizationId = first.id;
    }
    await organizationAccess(c, organizationId, MembershipLevel.admin);
    const project = newProject(organizationId, body.name, body.timezone);
    if (body.logs_retention_days) project.values.logsRetentionDays = body.logs_retention_days;
    if (body.receive_org_level_activity_logs) project.values.receiveOrgLevelActivityLogs = true;
    await commitWithActivity(
      writeContext(c, db),
      [db.insert(projects).values(project.values)],
      [
        {
          organizationId,
          teamId: project.idSql,
          scope: SCOPE,
          activity: "created",
          itemId: project.idSql,
          detail: { name: body.name, changes: createdChange(SCOPE) },
        },
      ],
    );
    const [created] = await db.select().from(projects).where(eq(projects.uuid, project.values.uuid));
    if (!created) throw new Error("project missing after commit");
    return c.json(serializeProject(created), 201);
  })
  .openapi(getProject, async (c) => {
    const { project } = await projectAccess(c, c.req.valid("param").project_id);
    return c.json(serializeProject(project), 200);
  })
  .openapi(updateProject, async (c) => {
    const { project } = await projectAccess(c, c.req.valid("param").project_id, MembershipLevel.admin);
    const db = createDb(c.env.DB);
    const body = c.req.valid("json");
    const before = serializeProject(project);
    const changes = diffChanges(SCOPE, before, { ...before, ...body }, { fields: Object.keys(body) });
    if (changes.length) {
      await commitWithActivity(
        writeContext(c, db),
        [
          db
            .update(projects)
            .set({
              name: body.name,
              timezone: body.timezone,
              logsRetentionDays: body.logs_retention_days,
              receiveOrgLevelActivityLogs: body.receive_org_level_activity_logs,
              updatedAt: new Date(),
            })
            .where(eq(projects.id, project.id)),
        ],
        [
          {
            organizationId: project.organizationId,
            teamId: project.id,
            scope: SCOPE,
            activity: "updated",
            itemId: project.id,
            detail: { name: body.name ?? project.name, changes },
          },
        ],
      );
    }
    return c.json(await reload(db, project.id), 200);
  })
  .openapi(deleteProject, async (c) => {
    const { project } = await projectAccess(c, c.req.valid("param").project_id, MembershipLevel.admin);
    const db = createDb(c.env.DB);
    await approvalGate(c, {
      actionKey: "project.delete",
      targets: [{ organizationId: project.organizationId, teamId: project.id }],
      resourceId: String(project.id),
      intent: changeIntent({
        name: project.name,
        before: { name: project.name },
        after: {},
        request: {},
        preconditions: { updated_at: isoRequired(project.updatedAt) },
        method: "DELETE",
      }),
    });
    const plan = planProjectDelete(db, project);
    await commitWithActivity(writeContext(c, db), plan.writes, plan.entries);
    forgetProjectToken(project.apiToken);
    return c.body(null, 204);
  })
  .openapi(resetProjectToken, async (c) => {
    const { project } = await projectAccess(c, c.req.valid("param").project_id, MembershipLevel.admin);
    const db = createDb(c.env.DB);
    await commitWithActivity(
      writeContext(c, db),
      [db.update(projects).set({ apiToken: newApiToken(), updatedAt: new Date() }).where(eq(projects.id, project.id))],
      [
        {
          organizationId: project.organizationId,
          teamId: project.id,
          scope: SCOPE,
          activity: "updated",
          itemId: project.id,
          detail: {
            name: project.name,
            changes: [{ type: SCOPE, action: "changed", field: "api_token", before: "masked", after: "masked" }],
          },
        },
      ],
    );
    forgetProjectToken(project.apiToken);
    return c.json(await reload(db, project.id), 200);
  });
