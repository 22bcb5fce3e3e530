import { eq } from "drizzle-orm";
import { createMiddleware } from "hono/factory";
import { createDb } from "../db/client";
import { personalApiKeys, users } from "../db/schema";
import type { AppBindings } from "../env";
import { ApiError, notAuthenticated } from "../lib/errors";
import { sha256Hex } from "../lib/ids";

export type User = typeof users.$inferSelect;
export type PersonalApiKey = typeof personalApiKeys.$inferSelect;
export interface AuthContext {
  user: User;
  key: PersonalApiKey;
}

// Writing last_used_at on every request would turn every read into a write; once an hour is
// precise enough for "when was this key last used".
const LAST_USED_RESOLUTION_MS = 60 * 60 * 1000;

/** `Authorization: Bearer <key>` (PostHog) or `Authorization: Token <key>` (SD Elements). */
export function bearerToken(header: string | undefined): string | null {
  const match = header?.match(/^(?:Bearer|Token)\s+(\S+)\s*$/i);
  return match?.[1] ?? null;
}

export const authenticate = createMiddleware<AppBindings>(async (c, next) => {
  const token = bearerToken(c.req.header("authorization"));
  if (!token) throw notAuthenticated();
  const db = createDb(c.env.DB);
  const [row] = await db
    .select({ key: personalApiKeys, user: users })
    .from(personalApiKeys)
    .innerJoin(users, eq(users.id, personalApiKeys.userId))
    .where(eq(personalApiKeys.secureValue, await sha256Hex(token)))
    .limit(1);
  if (!row) {
    throw new ApiError(
      401,
      "authentication_error",
      "authentication_failed",
      "Personal API key found in request Authorization header is invalid.",
    );
  }
  const now = Date.now();
  if (!row.key.lastUsedAt || now - row.key.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    c.executionCtx.waitUntil(
      db
        .update(personalApiKeys)
        .set({ lastUsedAt: new Date(now) })
        .where(eq(personalApiKeys.id, row.key.id))
        .then(() => undefined),
    );
  }
  c.set("auth", row);
  await next();
});
