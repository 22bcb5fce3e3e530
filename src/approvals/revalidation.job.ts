import { and, asc, eq, lte, ne, notLike } from "drizzle-orm";
import { createDb } from "../db/client";
import { changeRequests } from "../db/schema";
import type { Env } from "../env";
import { log } from "../lib/log";
import { changeRequestStub } from "./gate";

const REVALIDATE_AFTER_MS = 60 * 60 * 1000;
const REQUESTS_PER_RUN = 50;

/**
 * Cron job: pending change requests not checked for an hour are re-validated by their objects
 * against the resource's current state (valid / stale / invalid). App requests are skipped: only
 * the app knows its resources. Stale ones stay stale until decided.
 */
export async function revalidatePendingChangeRequests(env: Env, now: number) {
  const due = await createDb(env.DB)
    .select({ id: changeRequests.id })
    .from(changeRequests)
    .where(
      and(
        eq(changeRequests.state, "pending"),
        lte(changeRequests.validatedAt, new Date(now - REVALIDATE_AFTER_MS)),
        ne(changeRequests.validationStatus, "stale"),
        notLike(changeRequests.actionKey, "app.%"),
      ),
    )
    .orderBy(asc(changeRequests.validatedAt))
    .limit(REQUESTS_PER_RUN);
  const outcomes = await Promise.allSettled(due.map(({ id }) => changeRequestStub(env, id).revalidate(id)));
  const counts = { checked: 0, valid: 0, stale: 0, invalid: 0, errors: 0 };
  for (const outcome of outcomes) {
    if (outcome.status === "rejected") {
      counts.errors++;
      log("error", "change request re-validation failed", { error: outcome.reason });
    } else if (outcome.value) {
      counts.checked++;
      counts[outcome.value as "valid" | "stale" | "invalid"]++;
    }
  }
  return counts;
}
