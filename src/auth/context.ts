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

/** The caller's key (its SHA-256) and the path's target, read before the key is looked up. */
export interface Credentials {
  hash: string;
  target: AccessTarget | null;
}

export interface AppBindings {
  Bindings: Env;
  Variables: {
    /** hono/request-id: the client's well-formed X-Request-Id, or a new UUID. */
    requestId: string;
    /**
     * Who is calling: set by `authenticate` before the handler runs, or, on a one-trip read
     * (`oneTripAuth`), once its first D1 batch has come back (undefined before that).
     */
    auth: AuthContext;
    credentials: Credentials;
    /** Set by `oneTripAuth`: whether the key lookup has run yet, and running it on its own. */
    oneTrip?: { readonly resolved: boolean; resolveAlone(): Promise<void> };
    /** The D1 binding itself, for writes the response does not wait for (not counted as its round trips). */
    backgroundDb: D1Database;
    /** Set with `auth` when the path names a project or organization (see `projectAccess`). */
    prefetchedAccess?: PrefetchedAccess;
  };
}
