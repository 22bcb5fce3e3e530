import { eq } from "drizzle-orm";
import { type ActivityEntry, deletedChange } from "../audit/record";
import type { Project } from "../auth/context";
import type { Db } from "../db/client";
import { projects } from "../db/schema";

export const SCOPE = "Project";

/** A project deletion's writes and activity; the approval apply of project.delete reuses it. */
export function planProjectDelete(db: Db, project: Project) {
  const entries: ActivityEntry[] = [
    {
      organizationId: project.organizationId,
      teamId: project.id,
      scope: SCOPE,
      activity: "deleted",
      itemId: project.id,
      detail: { name: project.name, changes: deletedChange(SCOPE) },
    },
  ];
  return { writes: [db.delete(projects).where(eq(projects.id, project.id))], entries };
}
