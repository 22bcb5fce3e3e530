import { z } from "@hono/zod-openapi";

// Path parameters shared by the routers: one definition per name, so every route documents and
// validates them alike.

export const pathParam = (name: string, example?: string) => z.string().openapi({ param: { name, in: "path" }, example });

const UUID_EXAMPLE = "0191d6c5-3f4e-7000-8000-000000000000";

/**
 * `/api/projects/{project_id}/...`. Documented as the integer it is (so generated clients take a
 * number); validated as a string like every path segment, a non-number finding no project (404).
 */
export const ProjectIdParams = z.object({
  project_id: z.string().openapi({ param: { name: "project_id", in: "path" }, type: "integer", example: 1 }),
});
/** `/api/projects/{project_id}/<resource>/{id}/` */
export const ProjectItemParams = ProjectIdParams.extend({ id: pathParam("id", UUID_EXAMPLE) });
/** `/api/organizations/{id}/...` (PostHog names the organization `id` on its own routes) */
export const OrganizationIdParams = z.object({ id: pathParam("id", UUID_EXAMPLE) });
/** `/api/organizations/{organization_id}/...` */
export const OrganizationParams = z.object({ organization_id: pathParam("organization_id", UUID_EXAMPLE) });
/** `/api/organizations/{organization_id}/<resource>/{id}/` */
export const OrganizationItemParams = OrganizationParams.extend({ id: pathParam("id", UUID_EXAMPLE) });

/**
 * A numeric path id, only as plain decimal digits without leading zeros: `Number()` would also
 * read `0x1`, `1.0`, ` 1` or `1e0` as 1, so one object would answer under many names.
 */
export function decimalId(text: string): number | null {
  if (!/^(0|[1-9][0-9]*)$/.test(text)) return null;
  const id = Number(text);
  return Number.isSafeInteger(id) ? id : null;
}
