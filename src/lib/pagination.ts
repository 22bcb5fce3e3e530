import { z } from "@hono/zod-openapi";

export const LimitOffsetQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100).openapi({ example: 100 }),
  offset: z.coerce.number().int().min(0).default(0).openapi({ example: 0 }),
});
export type LimitOffset = z.infer<typeof LimitOffsetQuery>;

export const paginated = <T extends z.ZodTypeAny>(item: T) =>
  z.object({
    count: z.number().int(),
    next: z.string().nullable(),
    previous: z.string().nullable(),
    results: z.array(item),
  });

/** `{count, next, previous, results}` with absolute next/previous URLs built from the request URL. */
export function limitOffsetPage<T>(requestUrl: string, { limit, offset }: LimitOffset, count: number, results: T[]) {
  const pageUrl = (newOffset: number) => {
    const url = new URL(requestUrl);
    url.searchParams.set("limit", String(limit));
    if (newOffset > 0) url.searchParams.set("offset", String(newOffset));
    else url.searchParams.delete("offset");
    return url.toString();
  };
  return {
    count,
    next: offset + limit < count ? pageUrl(offset + limit) : null,
    previous: offset > 0 ? pageUrl(Math.max(0, offset - limit)) : null,
    results,
  };
}
