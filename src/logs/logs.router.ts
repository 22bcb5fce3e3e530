import { writeContext } from "../audit/record";
import { projectAccess, projectIdOf } from "../auth/access";
import { createDb } from "../db/client";
import { startExport } from "../exports";
import { createRouter } from "../http/router";
import { isoRequired } from "../lib/time";
import { listAttributeKeys, listAttributeValues, sampleAttributes, VALUES_LIMIT } from "./attributes.queries";
import { countLogsCompiled, sparkline } from "./count.queries";
import { resolveDateRange } from "./dates";
import { compileFilters } from "./filters";
import { hasLogs, listLogs, MAX_EXPORTABLE_LOGS } from "./list.queries";
import { exportColumns, type LogsExportFilters } from "./logs.export";
import { attributesRoute, countRoute, exportLogsRoute, hasLogsRoute, queryLogsRoute, sparklineRoute, valuesRoute } from "./logs.routes";
import type { DateRange, LogFilterGroup } from "./logs.schemas";

/** Distinct items with their frequency, most frequent first, keeping those containing `search` (any case). */
function rank(items: string[], search: string | undefined): [string, number][] {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  const needle = search?.toLowerCase();
  return [...counts]
    .filter(([item]) => !needle || item.toLowerCase().includes(needle))
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

interface LookupParams {
  attribute_type: "log" | "resource";
  dateRange?: DateRange;
  serviceNames?: string[];
  filterGroup?: LogFilterGroup;
}

/** `attributes/` and `values/` read the attribute index unless a filterGroup needs the records themselves. */
function lookupContext(params: LookupParams) {
  const now = Date.now();
  const { from, to } = resolveDateRange(params.dateRange, now, "dateRange");
  const serviceNames = params.serviceNames ?? [];
  const compiled = compileFilters({ filterGroup: params.filterGroup, serviceNames }, "", now);
  return { compiled, lookup: { attributeType: params.attribute_type, fromUs: from, toUs: to, serviceNames } };
}

export const logsRouter = createRouter()
  .openapi(queryLogsRoute, async (c) => {
    const projectId = projectIdOf(c, c.req.param("project_id"));
    const { query } = c.req.valid("json");
    const now = Date.now();
    const { from, to } = resolveDateRange(query.dateRange, now, "query__dateRange");
    const compiled = compileFilters(query, "query", now);
    const page = await listLogs(createDb(c.env.DB), projectId, compiled, {
      fromUs: from,
      toUs: to,
      orderBy: query.orderBy,
      limit: query.limit,
      after: query.after,
      excludeAttributes: query.excludeAttributes,
      attrPrefix: "query",
    });
    await projectAccess(c, projectId);
    return c.json({ query, ...page, maxExportableLogs: MAX_EXPORTABLE_LOGS }, 200);
  })
  .openapi(sparklineRoute, async (c) => {
    const projectId = projectIdOf(c, c.req.param("project_id"));
    const { query } = c.req.valid("json");
    const now = Date.now();
    const { from, to } = resolveDateRange(query.dateRange, now, "query__dateRange");
    const compiled = compileFilters(query, "query", now);
    const points = await sparkline(createDb(c.env.DB), projectId, compiled, from, to, query.sparklineBreakdownBy);
    await projectAccess(c, projectId);
    return c.json(points, 200);
  })
  .openapi(countRoute, async (c) => {
    const projectId = projectIdOf(c, c.req.param("project_id"));
    const { query } = c.req.valid("json");
    const now = Date.now();
    const { from, to } = resolveDateRange(query.dateRange, now, "query__dateRange");
    const compiled = compileFilters(query, "query", now);
    const count = await countLogsCompiled(createDb(c.env.DB), projectId, compiled, from, to);
    await projectAccess(c, projectId);
    return c.json({ count }, 200);
  })
  .openapi(attributesRoute, async (c) => {
    const projectId = projectIdOf(c, c.req.param("project_id"));
    const params = c.req.valid("query");
    const { lookup, compiled } = lookupContext(params);
    const propertyFilterType = params.attribute_type === "log" ? "log_attribute" : "log_resource_attribute";
    const db = createDb(c.env.DB);
    let keys: string[];
    let count: number;
    if (compiled.countable) {
      ({ keys, count } = await listAttributeKeys(db, projectId, {
        ...lookup,
        search: params.search,
        limit: params.limit,
        offset: params.offset,
      }));
    } else {
      const sample = await sampleAttributes(db, projectId, compiled, lookup);
      const ranked = rank(
        sample.flatMap((attributes) => Object.keys(attributes)),
        params.search,
      );
      keys = ranked.slice(params.offset, params.offset + params.limit).map(([key]) => key);
      count = ranked.length;
    }
    await projectAccess(c, projectId);
    return c.json({ results: keys.map((name) => ({ name, propertyFilterType, matchedOn: "key" as const })), count }, 200);
  })
  .openapi(valuesRoute, async (c) => {
    const projectId = projectIdOf(c, c.req.param("project_id"));
    const params = c.req.valid("query");
    const { lookup, compiled } = lookupContext(params);
    const db = createDb(c.env.DB);
    let values: { value: string; count: number }[];
    if (compiled.countable) {
      values = await listAttributeValues(db, projectId, { ...lookup, key: params.key, search: params.value });
    } else {
      const sample = await sampleAttributes(db, projectId, compiled, lookup);
      const seen = sample.map((attributes) => attributes[params.key]).filter((v): v is string => v !== undefined);
      values = rank(seen, params.value)
        .slice(0, VALUES_LIMIT)
        .map(([value, count]) => ({ value, count }));
    }
    await projectAccess(c, projectId);
    return c.json({ results: values.map(({ value, count }) => ({ id: value, name: value, count })), refreshing: false }, 200);
  })
  .openapi(hasLogsRoute, async (c) => {
    const projectId = projectIdOf(c, c.req.param("project_id"));
    const found = await hasLogs(createDb(c.env.DB), projectId);
    await projectAccess(c, projectId);
    return c.json({ hasLogs: found }, 200);
  })
  .openapi(exportLogsRoute, async (c) => {
    const { project, organization } = await projectAccess(c, c.req.param("project_id"));
    const { query, columns } = c.req.valid("json");
    const now = Date.now();
    const { from, to } = resolveDateRange(query.dateRange, now, "query__dateRange");
    compileFilters(query, "query", now);
    const stored: LogsExportFilters = {
      projectId: project.id,
      fromUs: from,
      toUs: to,
      orderBy: query.orderBy,
      filters: {
        severityLevels: query.severityLevels,
        serviceNames: query.serviceNames,
        searchTerm: query.searchTerm,
        filterGroup: query.filterGroup,
      },
      columns: exportColumns(columns),
    };
    const filename = `logs_export_${new Date(now).toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "_")}.csv`;
    const id = await startExport(
      writeContext(c, createDb(c.env.DB)),
      {
        organizationId: organization.id,
        teamId: project.id,
        kind: "logs",
        format: "csv",
        filters: stored as unknown as Record<string, unknown>,
        filename,
      },
      c.var.auth.user.id,
    );
    return c.json({ id, export_format: "text/csv" as const, created_at: isoRequired(now), has_content: false, filename }, 201);
  });
