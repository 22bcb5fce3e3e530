import { createMiddleware } from "hono/factory";
import { setMetric } from "hono/timing";
import type { AppBindings } from "../auth/context";
import { countingD1, type D1Trips, roundTripsDescription } from "../lib/d1-trips";
import { validationError } from "../lib/errors";

/** Request and response header carrying a D1 Sessions API bookmark (read-your-writes across requests). */
export const BOOKMARK_HEADER = "X-D1-Bookmark";

/** What a D1 bookmark looks like (hex groups separated by dashes); anything else is refused before D1 sees it. */
const BOOKMARK = /^[0-9a-f]{1,64}(?:-[0-9a-f]{1,64}){0,7}$/i;

/**
 * The request's D1: a Sessions API session, so reads may go to the nearest read replica
 * ("first-unconstrained"), or to one at least as new as the bookmark a client sends back after its
 * write; wrapped to count round trips. The response reports them in Server-Timing
 * (`db;dur=4.0;desc="1 round trip"`) and answers the session's latest bookmark.
 */
export const requestDatabase = createMiddleware<AppBindings>(async (c, next) => {
  const sent = c.req.header(BOOKMARK_HEADER);
  if (sent !== undefined && !BOOKMARK.test(sent)) throw validationError("Not a D1 bookmark.", BOOKMARK_HEADER);
  const trips: D1Trips = { count: 0, ms: 0 };
  // A binding without sessions (a test's stand-in) is used as it is.
  const session = typeof c.env.DB.withSession === "function" ? c.env.DB.withSession(sent || "first-unconstrained") : null;
  c.set("backgroundDb", c.env.DB);
  c.env = { ...c.env, DB: countingD1(session ?? c.env.DB, trips) as unknown as D1Database };
  try {
    await next();
  } finally {
    setMetric(c, "db", trips.ms, roundTripsDescription(trips.count), 0);
    const bookmark = session?.getBookmark();
    // An answer already made takes the header on its own (mutable, as Server-Timing needs them
    // too) headers: `c.header` would first copy the whole Response.
    if (bookmark && c.finalized) c.res.headers.set(BOOKMARK_HEADER, bookmark);
    else if (bookmark) c.header(BOOKMARK_HEADER, bookmark);
  }
});
