import { z } from "@hono/zod-openapi";

export const timeZone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { message: "Not a valid IANA time zone." },
);

/**
 * A request body that may carry the resource's read-only fields (a client sending back what it
 * read, or the seeds' example bodies): accepted and ignored, as DRF does. Any other unknown field
 * still reaches the strict schema and is refused.
 */
export function ignoringReadOnly<T extends z.ZodTypeAny>(readOnly: readonly string[], schema: T) {
  return z.preprocess((value) => {
    if (!value || typeof value !== "object" || Array.isArray(value)) return value;
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    for (const field of readOnly) delete copy[field];
    return copy;
  }, schema);
}
