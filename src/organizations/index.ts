// The public face of this domain: what other modules and the entry points may import.
export { invitesRouter } from "./invites.router";
export { INVITE_VALIDITY_MS } from "./invites.service";
export { membersActions } from "./members.actions";
export { membersRouter } from "./members.router";
export { organizationsActions } from "./organizations.actions";
export { loadOrganizationRelations, serializeOrganization, uniqueSlug } from "./organizations.queries";
export { organizationsRouter } from "./organizations.router";
export { OrganizationSchema } from "./organizations.routes";
export { rolesRouter } from "./roles.router";
