import { eq } from "drizzle-orm";
import { type ActionContext, type ApprovalAction, displayIntent, requesterAtLevel, updatedAtPrecondition } from "../approvals";
import { MembershipLevel } from "../auth/levels";
import { projects } from "../db/schema";
import { planProjectDelete } from "./projects.service";

// Approval actions this module owns: what an approved change request re-checks and writes, as the
// requester (`applied_by`), through the same plan functions as the handlers, so it records the same activity.

async function projectOf({ db, changeRequest }: ActionContext) {
  const [project] = await db
    .select()
    .from(projects)
    .where(eq(projects.id, Number(changeRequest.resourceId)));
  return project ?? null;
}

const deleteProject: ApprovalAction = {
  key: "project.delete",
  resourceType: "Project",
  level: "project",
  intentDisplay: displayIntent((name) => `Delete project "${name}"`),
  preconditions: async (ctx) => updatedAtPrecondition(await projectOf(ctx)),
  apply: async (ctx) => {
    await requesterAtLevel(ctx.db, ctx.changeRequest, MembershipLevel.admin);
    const project = (await projectOf(ctx))!;
    return { ...planProjectDelete(ctx.db, project), result: { resource_id: String(project.id), resource_version: null } };
  },
};

export const projectsActions: ApprovalAction[] = [deleteProject];
