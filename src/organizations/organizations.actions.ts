import { eq } from "drizzle-orm";
import {
  type ActionContext,
  type ApprovalAction,
  displayIntent,
  NO_WRITES,
  parsedIntent,
  requesterAtLevel,
  updatedAtPrecondition,
} from "../approvals";
import { MembershipLevel } from "../auth/levels";
import { organizations } from "../db/schema";
import { OrganizationUpdateSchema } from "./organizations.routes";
import { assertDefaultRoleInOrganization, planOrganizationDelete, planOrganizationUpdate } from "./organizations.service";

// Approval actions this module owns: what an approved change request re-checks and writes, as the
// requester (`applied_by`), through the same plan functions as the handlers, so it records the same activity.

async function organizationOf({ db, changeRequest }: ActionContext) {
  const [org] = await db.select().from(organizations).where(eq(organizations.id, changeRequest.organizationId));
  return org ?? null;
}

const updateOrganization: ApprovalAction = {
  key: "organization.update",
  resourceType: "Organization",
  level: "organization",
  intentDisplay: displayIntent((name) => `Update organization "${name}"`),
  preconditions: async (ctx) => updatedAtPrecondition(await organizationOf(ctx)),
  apply: async (ctx) => {
    await requesterAtLevel(ctx.db, ctx.changeRequest, MembershipLevel.admin);
    const organization = (await organizationOf(ctx))!;
    const body = parsedIntent(OrganizationUpdateSchema.safeParse(ctx.changeRequest.intent.full_request_data));
    await assertDefaultRoleInOrganization(ctx.db, organization.id, body);
    const plan = planOrganizationUpdate(ctx.db, organization, body) ?? NO_WRITES;
    return { ...plan, result: { resource_id: organization.id, resource_version: null } };
  },
};

const deleteOrganization: ApprovalAction = {
  key: "organization.delete",
  resourceType: "Organization",
  level: "organization",
  intentDisplay: displayIntent((name) => `Delete organization "${name}"`),
  preconditions: async (ctx) => updatedAtPrecondition(await organizationOf(ctx)),
  apply: async (ctx) => {
    await requesterAtLevel(ctx.db, ctx.changeRequest, MembershipLevel.owner);
    const organization = (await organizationOf(ctx))!;
    return { ...planOrganizationDelete(ctx.db, organization), result: { resource_id: organization.id, resource_version: null } };
  },
};

export const organizationsActions: ApprovalAction[] = [updateOrganization, deleteOrganization];
