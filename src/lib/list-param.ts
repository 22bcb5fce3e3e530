import { z } from "@hono/zod-openapi";

// A list in a query string as PostHog's serializers read it (`posthog/api/fields.py`): the
// parameter repeated (`scopes=A&scopes=B`), one comma-separated value or one JSON array string.

function toList(value: unknown): unknown {
  if (value === undefined || value === null) return undefined;
  const values = Array.isArray(value) ? value : [value];
  if (values.length === 1 && typeof values[0] === "string" && values[0].trim().startsWith("[")) {
    try {
      const parsed = JSON.parse(values[0]);
      if (Array.isArray(parsed)) return parsed.map((v) => (typeof v === "string" ? v : String(v)));
    } catch {
      // not JSON: read it as a comma-separated value
    }
  }
  return values
    .flatMap((v) => (typeof v === "string" ? v.split(",") : [String(v)]))
    .map((v) => v.trim())
    .filter(Boolean);
}

/** Values a list filter accepts; each list is one bound JSON parameter, so the limit is the request's size, not D1's. */
export const MAX_LIST_ITEMS = 1000;

export const listParam = <T extends z.ZodTypeAny>(item: T, description: string) =>
  z
    .preprocess(
      toList,
      z
        .array(item)
        .max(MAX_LIST_ITEMS, { message: `At most ${MAX_LIST_ITEMS} values.` })
        .optional(),
    )
    .openapi({
      description: `${description} At most ${MAX_LIST_ITEMS} values.`,
      type: "array",
      items: { type: "string" },
      maxItems: MAX_LIST_ITEMS,
    });
