import { and, count, desc, eq, inArray, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { ActivityEntry } from "../audit/record";
import { deletedChange, diffChanges } from "../audit/record";
import type { Project, User } from "../auth/context";
import type { Db } from "../db/client";
import { inList } from "../db/in-list";
import { type LogsAlertFilters, logsAlertDestinations, logsAlertEvents, logsAlerts, notificationDestinations, users } from "../db/schema";
import { notFound, validationError } from "../lib/errors";
import { sha256Hex, uuidv7 } from "../lib/ids";
import { iso, isoRequired } from "../lib/time";
import type { LogsFilterInput } from "../logs";
import { compileFilters } from "../logs";
import { serializeUserBasic } from "../users";
import {
  type AlertEventKind,
  type AlertMachine,
  type AlertNotification,
  type AlertRules,
  type ControlTransition,
  controlTransition,
} from "./alert.machine";
import type { AlertCreate, AlertFilters, AlertUpdate } from "./alerts.schemas";
import { linkedDestinations, planUnlink } from "./destinations";

export type AlertRow = typeof logsAlerts.$inferSelect;
export type AlertEventRow = typeof logsAlertEvents.$inferSelect;

export const ALERT_SCOPE = "LogsAlertConfiguration";
export const MINUTE_MS = 60_000;
/** Checks run every `window_minutes`, but at least every 5 minutes (longer windows overlap). */
const MAX_CHECK_INTERVAL_MINUTES = 5;

export const checkIntervalMinutes = (windowMinutes: number) => Math.min(windowMinutes, MAX_CHECK_INTERVAL_MINUTES);
export const floorMinute = (ms: number) => Math.floor(ms / MINUTE_MS) * MINUTE_MS;
export const ceilMinute = (ms: number) => Math.ceil(ms / MINUTE_MS) * MINUTE_MS;

export function rulesOf(alert: AlertRow): AlertRules {
  return {
    thresholdCount: alert.thresholdCount,
    thresholdOperator: alert.thresholdOperator,
    evaluationPeriods: alert.evaluationPeriods,
    datapointsToAlarm: alert.datapointsToAlarm,
    cooldownMinutes: alert.cooldownMinutes,
    snoozeUntil: alert.snoozeUntil?.getTime() ?? null,
  };
}

/** The machine as the D1 mirror knows it; the Durable Object adds the recent check outcomes. */
export function machineOf(alert: AlertRow, recentBreaches: boolean[] = []): AlertMachine {
  return {
    state: alert.state,
    consecutiveFailures: alert.consecutiveFailures,
    lastNotifiedAt: alert.lastNotifiedAt?.getTime() ?? null,
    recentBreaches,
  };
}

/**
 * When the cron should next look at the alert: never while disabled or broken, at the end of a
 * snooze, right away after a person's transition, otherwise when it was due anyway.
 */
export function scheduleAfterEdit(alert: AlertRow, transitioned: boolean, now: number): Date | null {
  if (!alert.enabled || alert.state === "broken") return null;
  if (alert.state === "snoozed" && alert.snoozeUntil) return new Date(ceilMinute(alert.snoozeUntil.getTime()));
  if (transitioned || !alert.nextCheckAt) return new Date(now);
  return alert.nextCheckAt;
}

export const filtersOf = (alert: Pick<AlertRow, "filters">): LogsFilterInput => alert.filters as LogsFilterInput;

/** 400s for filters the logs query layer cannot run, and for an enabled alert without any filter. */
export function validateFilters(filters: LogsAlertFilters, enabled: boolean, now: number): void {
  const compiled = compileFilters(filters as LogsFilterInput, "filters", now);
  const hasFilter = compiled.where.length > 0 || compiled.predicates.length > 0;
  if (enabled && !hasFilter) {
    throw validationError(
      "An enabled alert needs at least one filter: severityLevels, serviceNames or filterGroup.",
      "filters",
      "required",
    );
  }
}

function validateRules(alert: Pick<AlertRow, "evaluationPeriods" | "datapointsToAlarm">): void {
  if (alert.datapointsToAlarm > alert.evaluationPeriods) {
    throw validationError("datapoints_to_alarm must be less than or equal to evaluation_periods.", "datapoints_to_alarm");
  }
}

function parseSnooze(value: string | null | undefined, now: number): Date | null | undefined {
  if (value === undefined || value === null) return value;
  const at = Date.parse(value);
  if (at <= now) throw validationError("snooze_until must be in the future.", "snooze_until");
  return new Date(at);
}

/** A client that sends back the snooze it read (even an expired one) is not snoozing again. */
function unchangedSnooze(value: string | null | undefined, current: Date | null): boolean {
  if (value === undefined) return true;
  return value === null ? current === null : current !== null && Date.parse(value) === current.getTime();
}

/** A new alert with PostHog's defaults. */
export function newAlert(project: Project, userId: number | null, body: AlertCreate, now: number): AlertRow {
  const enabled = body.enabled ?? true;
  const filters = (body.filters ?? {}) as LogsAlertFilters;
  const snoozeUntil = parseSnooze(body.snooze_until, now) ?? null;
  const windowMinutes = body.window_minutes ?? 5;
  const alert: AlertRow = {
    id: uuidv7(now),
    organizationId: project.organizationId,
    teamId: project.id,
    name: body.name ?? "Untitled alert",
    enabled,
    filters,
    thresholdCount: body.threshold_count ?? 100,
    thresholdOperator: body.threshold_operator ?? "above",
    windowMinutes,
    checkIntervalMinutes: checkIntervalMinutes(windowMinutes),
    evaluationPeriods: body.evaluation_periods ?? 1,
    datapointsToAlarm: body.datapoints_to_alarm ?? 1,
    cooldownMinutes: body.cooldown_minutes ?? 0,
    snoozeUntil,
    state: snoozeUntil ? "snoozed" : "not_firing",
    version: 1,
    nextCheckAt: null,
    lastNotifiedAt: null,
    lastCheckedAt: null,
    recentBreaches: 0,
    objectWindowEnd: null,
    consecutiveFailures: 0,
    lastErrorMessage: null,
    firstEnabledAt: enabled ? new Date(now) : null,
    createdById: userId,
    createdAt: new Date(now),
    updatedAt: new Date(now),
  };
  validateFilters(filters, enabled, now);
  validateRules(alert);
  alert.nextCheckAt = scheduleAfterEdit(alert, true, now);
  return alert;
}

/** The fields an activity diff shows. */
export function auditedFields(alert: AlertRow): Record<string, unknown> {
  return {
    name: alert.name,
    enabled: alert.enabled,
    filters: alert.filters,
    threshold_count: alert.thresholdCount,
    threshold_operator: alert.thresholdOperator,
    window_minutes: alert.windowMinutes,
    evaluation_periods: alert.evaluationPeriods,
    datapoints_to_alarm: alert.datapointsToAlarm,
    cooldown_minutes: alert.cooldownMinutes,
    snooze_until: iso(alert.snoozeUntil),
    state: alert.state,
  };
}

const RULE_FIELDS = [
  "filters",
  "threshold_count",
  "threshold_operator",
  "window_minutes",
  "evaluation_periods",
  "datapoints_to_alarm",
] as const;

export function alertActivity(alert: AlertRow, activity: string, detail: ActivityEntry["detail"]): ActivityEntry {
  return {
    organizationId: alert.organizationId,
    teamId: alert.teamId,
    scope: ALERT_SCOPE,
    activity,
    itemId: alert.id,
    detail: { name: alert.name, ...detail },
  };
}

export function controlEventRow(alert: AlertRow, before: AlertRow["state"], transition: ControlTransition, now: number) {
  return {
    id: uuidv7(now),
    alertId: alert.id,
    kind: transition.kind,
    stateBefore: before,
    stateAfter: transition.state,
    createdAt: new Date(now),
  } satisfies typeof logsAlertEvents.$inferInsert;
}

export interface AlertWritePlan {
  after: AlertRow;
  writes: BatchItem<"sqlite">[];
  entries: ActivityEntry[];
}

/**
 * The statements of an edit: the new configuration, the control-plane transition it causes (state,
 * failures, schedule, a bumped `version`, an event row) and its activity row. Shared by the update
 * handler and the approvals apply of `logs_alert.update`.
 */
export function planUpdate(db: Db, alert: AlertRow, patch: AlertUpdate, now: number): AlertWritePlan {
  const after: AlertRow = {
    ...alert,
    name: patch.name ?? alert.name,
    enabled: patch.enabled ?? alert.enabled,
    filters: (patch.filters as LogsAlertFilters | undefined) ?? alert.filters,
    thresholdCount: patch.threshold_count ?? alert.thresholdCount,
    thresholdOperator: patch.threshold_operator ?? alert.thresholdOperator,
    windowMinutes: patch.window_minutes ?? alert.windowMinutes,
    evaluationPeriods: patch.evaluation_periods ?? alert.evaluationPeriods,
    datapointsToAlarm: patch.datapoints_to_alarm ?? alert.datapointsToAlarm,
    cooldownMinutes: patch.cooldown_minutes ?? alert.cooldownMinutes,
    snoozeUntil: unchangedSnooze(patch.snooze_until, alert.snoozeUntil)
      ? alert.snoozeUntil
      : (parseSnooze(patch.snooze_until, now) ?? null),
  };
  validateFilters(after.filters, after.enabled, now);
  validateRules(after);
  after.checkIntervalMinutes = checkIntervalMinutes(after.windowMinutes);

  const before = auditedFields(alert);
  const rulesChanged = diffChanges(ALERT_SCOPE, before, auditedFields(after), { fields: [...RULE_FIELDS] }).length > 0;
  const transition = controlTransition(
    alert,
    {
      wasEnabled: alert.enabled,
      enabled: after.enabled,
      snoozeBefore: alert.snoozeUntil?.getTime() ?? null,
      snoozeAfter: after.snoozeUntil?.getTime() ?? null,
      rulesChanged,
    },
    now,
  );
  if (transition) {
    after.state = transition.state;
    after.consecutiveFailures = transition.consecutiveFailures;
    if (transition.consecutiveFailures === 0) after.lastErrorMessage = null;
    after.version = alert.version + 1;
    // A new version starts with an empty history (the object counts only the version's own checks).
    after.recentBreaches = 0;
  }
  if (after.enabled && !after.firstEnabledAt) after.firstEnabledAt = new Date(now);
  after.nextCheckAt = scheduleAfterEdit(after, transition !== null, now);

  const changes = diffChanges(ALERT_SCOPE, before, auditedFields(after));
  if (!changes.length) return { after: alert, writes: [], entries: [] };
  after.updatedAt = new Date(now);

  const set: Partial<AlertRow> = {
    name: after.name,
    enabled: after.enabled,
    filters: after.filters,
    thresholdCount: after.thresholdCount,
    thresholdOperator: after.thresholdOperator,
    windowMinutes: after.windowMinutes,
    checkIntervalMinutes: after.checkIntervalMinutes,
    evaluationPeriods: after.evaluationPeriods,
    datapointsToAlarm: after.datapointsToAlarm,
    cooldownMinutes: after.cooldownMinutes,
    snoozeUntil: after.snoozeUntil,
    firstEnabledAt: after.firstEnabledAt,
    nextCheckAt: after.nextCheckAt,
    updatedAt: after.updatedAt,
  };
  const writes: BatchItem<"sqlite">[] = [];
  if (transition) {
    // The transition's state wins over a check that raced it: the bumped version makes that check's write a no-op.
    writes.push(
      db
        .update(logsAlerts)
        .set({
          ...set,
          state: after.state,
          consecutiveFailures: after.consecutiveFailures,
          lastErrorMessage: after.lastErrorMessage,
          recentBreaches: 0,
          version: sql`${logsAlerts.version} + 1`,
        })
        .where(eq(logsAlerts.id, alert.id)),
      db.insert(logsAlertEvents).values(controlEventRow(after, alert.state, transition, now)),
    );
  } else {
    writes.push(db.update(logsAlerts).set(set).where(eq(logsAlerts.id, alert.id)));
  }
  return { after, writes, entries: [alertActivity(after, "updated", { changes })] };
}

/** A deletion's statements and activity; the approvals apply of `logs_alert.delete` reuses it. */
export async function planDelete(db: Db, alert: AlertRow): Promise<Omit<AlertWritePlan, "after">> {
  // The destinations created for this alert serve nothing else: they go with it.
  const destinations = planUnlink(db, await linkedDestinations(db, alert.id));
  return {
    writes: [...destinations.writes, db.delete(logsAlerts).where(eq(logsAlerts.id, alert.id))],
    entries: [alertActivity(alert, "deleted", { changes: deletedChange(ALERT_SCOPE, auditedFields(alert)) }), ...destinations.entries],
  };
}

export async function findAlert(db: Db, projectId: number, id: string): Promise<AlertRow> {
  const [alert] = await db
    .select()
    .from(logsAlerts)
    .where(and(eq(logsAlerts.id, id), eq(logsAlerts.teamId, projectId)));
  if (!alert) throw notFound();
  return alert;
}

export function serializeAlert(alert: AlertRow, creator: User | null | undefined, destinationTypes: ("slack" | "webhook")[]) {
  return {
    id: alert.id,
    name: alert.name,
    enabled: alert.enabled,
    filters: alert.filters as AlertFilters,
    threshold_count: alert.thresholdCount,
    threshold_operator: alert.thresholdOperator,
    window_minutes: alert.windowMinutes,
    check_interval_minutes: alert.checkIntervalMinutes,
    state: alert.state,
    evaluation_periods: alert.evaluationPeriods,
    datapoints_to_alarm: alert.datapointsToAlarm,
    cooldown_minutes: alert.cooldownMinutes,
    snooze_until: iso(alert.snoozeUntil),
    next_check_at: iso(alert.nextCheckAt),
    last_notified_at: iso(alert.lastNotifiedAt),
    last_checked_at: iso(alert.lastCheckedAt),
    consecutive_failures: alert.consecutiveFailures,
    last_error_message: alert.lastErrorMessage,
    first_enabled_at: iso(alert.firstEnabledAt),
    destination_types: destinationTypes,
    created_at: isoRequired(alert.createdAt),
    created_by: creator ? serializeUserBasic(creator) : null,
    updated_at: isoRequired(alert.updatedAt),
  };
}

export async function serializeAlerts(db: Db, alerts: AlertRow[]) {
  if (!alerts.length) return [];
  const creatorIds = [...new Set(alerts.map((a) => a.createdById).filter((id): id is number => id !== null))];
  const ids = alerts.map((a) => a.id);
  const [creators, links] = await Promise.all([
    creatorIds.length ? db.select().from(users).where(inList(users.id, creatorIds)) : Promise.resolve([]),
    linksQuery(db, inList(logsAlertDestinations.alertId, ids)),
  ]);
  return serializeAlertsWith(alerts, creators, links);
}

const linksQuery = (db: Db, where: SQL) =>
  db
    .selectDistinct({ alertId: logsAlertDestinations.alertId, type: notificationDestinations.type })
    .from(logsAlertDestinations)
    .innerJoin(notificationDestinations, eq(notificationDestinations.id, logsAlertDestinations.destinationId))
    .where(where);

/** One column of a page of the project's alerts in list order, as a subquery. */
const alertsPage = (
  db: Db,
  column: typeof logsAlerts.id | typeof logsAlerts.createdById,
  where: SQL,
  page: { limit: number; offset: number },
) =>
  db
    .select({ value: sql`${column}` })
    .from(logsAlerts)
    .where(where)
    .orderBy(logsAlerts.createdAt, logsAlerts.id)
    .limit(page.limit)
    .offset(page.offset);

/**
 * A page of the project's alerts, its total, their creators and destination types, as one D1
 * batch: the creators and links read the page's ids through a subquery instead of a second trip.
 */
export async function alertsPageOf(db: Db, projectId: number, page: { limit: number; offset: number }, id?: string) {
  const where = and(eq(logsAlerts.teamId, projectId), id === undefined ? undefined : eq(logsAlerts.id, id)) as SQL;
  const [rows, [total], creators, links] = await db.batch([
    db.select().from(logsAlerts).where(where).orderBy(logsAlerts.createdAt, logsAlerts.id).limit(page.limit).offset(page.offset),
    db.select({ n: count() }).from(logsAlerts).where(where),
    db
      .select()
      .from(users)
      .where(inArray(users.id, alertsPage(db, logsAlerts.createdById, where, page))),
    linksQuery(db, inArray(logsAlertDestinations.alertId, alertsPage(db, logsAlerts.id, where, page))),
  ]);
  return { total: total?.n ?? 0, results: serializeAlertsWith(rows, creators, links) };
}

/** A page of an alert's events and their total, the alert's existence checked in the same batch (404). */
export async function alertEventsPage(db: Db, projectId: number, alertId: string, page: { limit: number; offset: number }) {
  const where = and(
    eq(logsAlertEvents.alertId, alertId),
    inArray(
      logsAlertEvents.alertId,
      db
        .select({ id: logsAlerts.id })
        .from(logsAlerts)
        .where(and(eq(logsAlerts.id, alertId), eq(logsAlerts.teamId, projectId))),
    ),
  ) as SQL;
  const [[alert], rows, [total]] = await db.batch([
    db
      .select({ id: logsAlerts.id })
      .from(logsAlerts)
      .where(and(eq(logsAlerts.id, alertId), eq(logsAlerts.teamId, projectId))),
    db
      .select()
      .from(logsAlertEvents)
      .where(where)
      .orderBy(desc(logsAlertEvents.createdAt), desc(logsAlertEvents.id))
      .limit(page.limit)
      .offset(page.offset),
    db.select({ n: count() }).from(logsAlertEvents).where(where),
  ]);
  if (!alert) throw notFound();
  return { total: total?.n ?? 0, results: rows.map(serializeEvent) };
}

function serializeAlertsWith(alerts: AlertRow[], creators: User[], links: { alertId: string; type: "slack" | "webhook" }[]) {
  const creatorsById = new Map(creators.map((u) => [u.id, u]));
  const typesByAlert = new Map<string, ("slack" | "webhook")[]>();
  for (const link of links) typesByAlert.set(link.alertId, [...(typesByAlert.get(link.alertId) ?? []), link.type].sort());
  return alerts.map((a) =>
    serializeAlert(a, a.createdById === null ? null : creatorsById.get(a.createdById), typesByAlert.get(a.id) ?? []),
  );
}

export async function reloadAlert(db: Db, projectId: number, id: string) {
  const [serialized] = await serializeAlerts(db, [await findAlert(db, projectId, id)]);
  if (!serialized) throw notFound();
  return serialized;
}

export function serializeEvent(event: AlertEventRow) {
  return {
    id: event.id,
    kind: event.kind as AlertEventKind,
    result_count: event.resultCount,
    threshold_breached: event.thresholdBreached,
    state_before: event.stateBefore,
    state_after: event.stateAfter,
    error_message: event.errorMessage,
    query_duration_ms: event.queryDurationMs,
    notification: event.notification as AlertNotification | null,
    window_start: iso(event.windowStart),
    window_end: iso(event.windowEnd),
    created_at: isoRequired(event.createdAt),
  };
}

/**
 * A UUID-shaped id derived from a key (RFC 9562 version 8): the same check of the same window
 * always gets the same event and notification ids, so a replay is a no-op downstream too.
 */
export async function uuidFromKey(key: string): Promise<string> {
  const hex = (await sha256Hex(key)).slice(0, 32).split("");
  hex[12] = "8";
  hex[16] = ((Number.parseInt(hex[16] ?? "0", 16) & 0x3) | 0x8).toString(16);
  const h = hex.join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
