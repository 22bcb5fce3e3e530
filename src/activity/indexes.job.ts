import { refreshFacets } from "./facets";
import { refreshSearchIndex } from "./search-index";

const CHUNK = 5000;

/**
 * Cron: folds new activity rows into the two indexes kept behind the writes (facets for
 * available_filters, the trigram search index) until both are caught up or the budget is spent.
 */
export async function refreshActivityIndexes(db: D1Database, budgetMs = 20_000): Promise<{ facets: number; search: number }> {
  const deadline = Date.now() + budgetMs;
  const done = { facets: 0, search: 0 };
  while (Date.now() < deadline) {
    const facets = await refreshFacets(db, CHUNK);
    const search = await refreshSearchIndex(db, CHUNK);
    done.facets += facets;
    done.search += search;
    if (facets < CHUNK && search < CHUNK) break;
  }
  return done;
}
