/**
 * Every route is reachable with or without its trailing slash, and `/api/environments/:id/...`
 * is the same resource as `/api/projects/:id/...` (PostHog's two names for a project).
 */
export function normalizePath(pathname: string): string {
  const trimmed = pathname.length > 1 && pathname.endsWith("/") ? pathname.slice(0, -1) : pathname;
  return trimmed.replace(/^\/api\/environments(?=\/|$)/, "/api/projects");
}
