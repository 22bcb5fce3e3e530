import type { organizations, personalApiKeys, projects, users } from "../db/schema";
import type { Env } from "../env";

// The request context every router and middleware shares: who is calling and what the path names.

export type User = typeof users.$inferSelect;
export type PersonalApiKey = typeof personalApiKeys.$inferSelect;
export interface AuthContext {
  user: User;
  key: PersonalApiKey;
}

export type Organization = typeof organizations.$inferSelect;
export type Project = typeof projects.$inferSelect;

export interface OrganizationAccess {
  organization: Organization;
  level: number;
}
export interface ProjectAccess extends OrganizationAccess {
  project: Project;
}

/** The project or organization a request path names, if any (`/api/projects/:id/...`, `/api/organizations/:id/...`). */
export type AccessTarget = { kind: "project"; id: number | "@current" } | { kind: "organization"; id: string };

/**
 * An access row read ahead, in the API key lookup's query, so that the usual request (one project
 * or organization in its path) pays one D1 round trip for authentication and access together.
 * `row` undefined means "read, and the caller is not a member".
 */
export type PrefetchedAccess =
  | { kind: "project"; id: number | "@current"; row: ProjectAccess | undefined }
  | { kind: "organization"; id: string; row: OrganizationAccess | undefined };

export interface AppBindings {
  Bindings: Env;
  Variables: {
    /** hono/request-id: the client's well-formed X-Request-Id, or a new UUID. */
    requestId: string;
    auth: AuthContext;
    /** Set by `authenticate` when the path names a project or organization (see `projectAccess`). */
    prefetchedAccess?: PrefetchedAccess;
  };
}
