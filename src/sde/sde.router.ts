import type { SqlParams } from "../activity";
import { type ActivityFilters, activityPage, scopeActivityPairs, selectActivity } from "../activity";
import { authenticated } from "../auth/access";
import { callerOf } from "../auth/one-trip";
import { createRouter } from "../http/router";
import { parseIsoDate, toEpochMs } from "../lib/dates";
import { notFound, validationError } from "../lib/errors";
import { decimalId } from "../lib/path-params";
import {
  activityName,
  feedNameStatements,
  feedPartitions,
  feedTenantQuery,
  feedTenants,
  type KnownNames,
  projectIdsNamed,
  projectOrganizations,
  serializeFeed,
  userReference,
} from "./sde.feed";
import { getFeedActivity, listFeed } from "./sde.routes";

function dateParam(value: string | undefined, attr: string) {
  if (value === undefined) return undefined;
  const parsed = parseIsoDate(value);
  if (!parsed) throw validationError("Enter a valid date/time (ISO 8601, e.g. 2016-03-30T15:14:46Z).", attr);
  return parsed;
}

const intersect = (a: Set<number> | null, b: number[]): Set<number> => new Set(b.filter((id) => !a || a.has(id)));

export const sdeRouter = createRouter()
  .openapi(listFeed, async (c) => {
    const q = c.req.valid("query");
    const db = c.env.DB;
    // Without filters that need a lookup of their own (names, projects, dates in each organization's
    // zone, a referenced user, an activity name), the feed is one round trip: the caller's tenants are
    // chosen inside the page's statements from the key, and the names come in the same batch.
    const caller = callerOf(c);
    const lookups = [q.application, q.project, q.application_desc, q.project_desc, q.date_from, q.date_to, q.user, q.name];
    if ("keyHash" in caller && lookups.every((v) => v === undefined)) {
      const filters: ActivityFilters = {};
      if (q.actor !== undefined) filters.userIds = [q.actor];
      if (q.id !== undefined) filters.seqs = [q.id];
      const conditions: ((params: SqlParams) => string)[] = [];
      if (q.standard !== undefined) conditions.push((params) => `a.detail ->> '$.context.standard.id' = ${params.add(q.standard!)}`);
      if (q.standard_desc !== undefined) {
        conditions.push((params) => `a.detail ->> '$.context.standard.name' = ${params.add(q.standard_desc!)}`);
      }
      if (conditions.length) filters.extra = (params) => conditions.map((condition) => condition(params));
      const tenants = feedTenantQuery(caller.keyHash, { id: q.business_unit, name: q.business_unit_desc });
      const page = await activityPage(
        db,
        c.req.url,
        tenants,
        filters,
        q,
        (rows, _bookmark, [organizations, projects, users]) =>
          serializeFeed(db, rows, {
            organizations: (organizations?.results ?? []) as KnownNames["organizations"],
            projects: (projects?.results ?? []) as KnownNames["projects"],
            users: (users?.results ?? []) as KnownNames["users"],
          }),
        undefined,
        feedNameStatements(db, caller.keyHash),
      );
      return c.json(page, 200);
    }
    await authenticated(c);
    let tenants = await feedTenants(c);
    if (q.business_unit !== undefined) tenants = tenants.filter((t) => t.organizationId === q.business_unit);
    if (q.business_unit_desc !== undefined) tenants = tenants.filter((t) => t.organizationName === q.business_unit_desc);
    const organizationIds = tenants.map((t) => t.organizationId);

    let projects: Set<number> | null = null;
    for (const id of [q.application, q.project]) if (id !== undefined) projects = intersect(projects, [id]);
    for (const name of [q.application_desc, q.project_desc]) {
      if (name !== undefined) projects = intersect(projects, await projectIdsNamed(db, organizationIds, name));
    }

    const from = dateParam(q.date_from, "date_from");
    const to = dateParam(q.date_to, "date_to");
    const owners = projects ? await projectOrganizations(db, tenants, projects) : null;
    const partitions = feedPartitions(tenants, owners, (timezone) => ({
      from: from && toEpochMs(from, timezone),
      to: to && toEpochMs(to, timezone),
    }));

    const filters: ActivityFilters = {};
    if (q.actor !== undefined) filters.userIds = [q.actor];
    if (q.id !== undefined) filters.seqs = [q.id];
    const conditions: ((params: SqlParams) => string)[] = [];
    if (q.user !== undefined) {
      const reference = await userReference(db, q.user);
      conditions.push((params) => `${params.in("a.scope", reference.scopes)} AND ${params.in("a.item_id", reference.itemIds)}`);
    }
    if (q.name !== undefined) {
      const pairs = (await scopeActivityPairs(db, organizationIds)).filter((p) => activityName(p.scope, p.activity) === q.name);
      if (!pairs.length) return c.json({ next: null, previous: null, results: [] }, 200);
      conditions.push(
        (params) => `(${pairs.map((p) => `(a.scope = ${params.add(p.scope)} AND a.activity = ${params.add(p.activity)})`).join(" OR ")})`,
      );
    }
    // The standard an activity references is recorded on the row (`detail.context.standard`), so
    // the name also finds activities of standards deleted since; rows without one never match.
    if (q.standard !== undefined) conditions.push((params) => `a.detail ->> '$.context.standard.id' = ${params.add(q.standard!)}`);
    if (q.standard_desc !== undefined) {
      conditions.push((params) => `a.detail ->> '$.context.standard.name' = ${params.add(q.standard_desc!)}`);
    }
    if (conditions.length) filters.extra = (params) => conditions.map((condition) => condition(params));
    return c.json(await activityPage(db, c.req.url, partitions, filters, q, (rows) => serializeFeed(db, rows)), 200);
  })
  .openapi(getFeedActivity, async (c) => {
    await authenticated(c);
    const id = decimalId(c.req.valid("param").activity_id);
    if (id === null) throw notFound();
    const partitions = feedPartitions(await feedTenants(c), null, () => ({}));
    const [row] = await selectActivity(c.env.DB, partitions, { seqs: [id] }, { direction: "desc", limit: 1 });
    if (!row) throw notFound();
    const [activity] = await serializeFeed(c.env.DB, [row]);
    return c.json(activity!, 200);
  });
