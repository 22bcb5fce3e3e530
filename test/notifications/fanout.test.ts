import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { notificationDeliveries, notificationDestinations, notificationSubscriptions } from "../../src/db/schema";
import type { NotificationEvent } from "../../src/lib/messages";
import { candidatesQuery, type Destination, matchesFilters, subscriptionInserts, subscriptionRows } from "../../src/notifications/matching";
import { QUEUE_NAMES } from "../../src/queues";
import { createAlert } from "../alerts/alert-helpers";
import { call, db, otherOrganization, signupFirstUser, type Tenant } from "../helpers";
import { createDestination, interceptFetch, projectDestinations, runQueue, stopDeliveries } from "./notify-helpers";

let owner: Tenant;
// Matched events are really delivered by the queue in the background: every receiver answers 200.
let fetches: ReturnType<typeof interceptFetch>;

beforeAll(async () => {
  fetches = interceptFetch(() => new Response("ok"));
  owner = await signupFirstUser();
});
afterAll(async () => {
  await stopDeliveries();
  fetches.restore();
});

let n = 0;
function event(overrides: Partial<NotificationEvent>): NotificationEvent {
  return {
    id: `evt-${++n}-${crypto.randomUUID()}`,
    type: "activity_log_entry_created",
    organizationId: owner.organizationId,
    teamId: owner.projectId,
    occurredAt: new Date().toISOString(),
    data: { n },
    ...overrides,
  };
}

async function fanOut(...events: NotificationEvent[]) {
  return runQueue(
    QUEUE_NAMES.notifications,
    events.map((e) => ({ body: { kind: "event", event: e } })),
  );
}

async function deliveredTo(eventId: string): Promise<string[]> {
  const rows = await db()
    .select({ destinationId: notificationDeliveries.destinationId })
    .from(notificationDeliveries)
    .where(eq(notificationDeliveries.eventId, eventId));
  return rows.map((r) => r.destinationId).sort();
}

const sorted = (...ids: string[]) => [...ids].sort();

describe("filter matching", () => {
  it("applies every filter that concerns the event type", () => {
    const activity = {
      type: "activity_log_entry_created",
      organizationId: "o",
      teamId: 1,
      scope: "FeatureFlag",
      activity: "updated",
      itemId: "42",
    } as const;
    expect(matchesFilters({}, activity)).toBe(true);
    expect(matchesFilters({ scopes: ["FeatureFlag", "Dashboard"] }, activity)).toBe(true);
    expect(matchesFilters({ scopes: ["Dashboard"] }, activity)).toBe(false);
    expect(matchesFilters({ scopes: ["FeatureFlag"], activities: ["deleted"] }, activity)).toBe(false);
    expect(matchesFilters({ scopes: ["FeatureFlag"], activities: ["updated"], item_ids: ["42"] }, activity)).toBe(true);
    expect(matchesFilters({ item_ids: ["7"] }, activity)).toBe(false);
    expect(matchesFilters({ item_ids: ["7"] }, { ...activity, itemId: null })).toBe(false);
    // alert_ids concern alert events only, and activity filters do not concern them.
    expect(matchesFilters({ alert_ids: ["a1"] }, activity)).toBe(true);
    const alert = { type: "logs_alert_firing", organizationId: "o", teamId: 1, alertId: "a1" } as const;
    expect(matchesFilters({ alert_ids: ["a1"], scopes: ["Nope"] }, alert)).toBe(true);
    expect(matchesFilters({ alert_ids: ["a2"] }, alert)).toBe(false);
    expect(
      matchesFilters({ scopes: ["Nope"], alert_ids: ["a2"] }, { type: "change_request_created", organizationId: "o", teamId: 1 }),
    ).toBe(true);
  });

  it("indexes each destination under its most selective filter", () => {
    const base = { id: "d", organizationId: "o", teamId: 5, enabled: true, includeOrganizationActivity: false } as const;
    const keys = (d: Partial<Destination>) =>
      subscriptionRows({ ...base, events: ["activity_log_entry_created"], filters: {}, ...d }).map((r) => `${r.teamKey}/${r.matchKey}`);
    expect(keys({})).toEqual(["5/*"]);
    expect(keys({ filters: { scopes: ["A", "B"], item_ids: ["1"] } })).toEqual(["5/item:1"]);
    expect(keys({ filters: { scopes: ["A", "B"], activities: ["x"] } })).toEqual(["5/scope:A", "5/scope:B"]);
    expect(keys({ filters: { activities: ["x"] } })).toEqual(["5/activity:x"]);
    expect(keys({ includeOrganizationActivity: true })).toEqual(["5/*", "0/*"]);
    expect(keys({ teamId: null })).toEqual(["0/*"]);
    expect(keys({ enabled: false })).toEqual([]);
    const alertRows = subscriptionRows({
      ...base,
      events: ["logs_alert_firing", "change_request_created"],
      filters: { alert_ids: ["a"], scopes: ["S"] },
    });
    expect(alertRows.map((r) => `${r.eventType}/${r.matchKey}`)).toEqual(["logs_alert_firing/alert:a", "change_request_created/*"]);
  });
});

describe("fan-out", () => {
  it("creates one delivery per matching destination and none for the rest", async () => {
    const all = await createDestination(owner, { name: "all", events: ["activity_log_entry_created"] });
    const flags = await createDestination(owner, {
      name: "flags",
      events: ["activity_log_entry_created"],
      filters: { scopes: ["FeatureFlag"] },
    });
    const item = await createDestination(owner, { name: "item 42", events: ["activity_log_entry_created"], filters: { item_ids: ["42"] } });
    const deletes = await createDestination(owner, {
      name: "deletes",
      events: ["activity_log_entry_created"],
      filters: { activities: ["deleted"] },
    });
    const off = await createDestination(owner, { name: "off", events: ["activity_log_entry_created"], enabled: false });
    const alerts = await createDestination(owner, { name: "alerts", events: ["logs_alert_broken"] });
    const other = await otherOrganization(owner);
    const elsewhere = await createDestination(
      owner,
      { name: "other project", events: ["activity_log_entry_created"] },
      `/api/projects/${other.projectId}/destinations/`,
    );

    const flagUpdate = event({ scope: "FeatureFlag", activity: "updated", itemId: "42" });
    const dashboardDelete = event({ scope: "Dashboard", activity: "deleted", itemId: "9" });
    const flagCreate = event({ scope: "FeatureFlag", activity: "created", itemId: "43" });
    const result = await fanOut(flagUpdate, dashboardDelete, flagCreate);
    expect(result.explicitAcks).toHaveLength(3);

    expect(await deliveredTo(flagUpdate.id!)).toEqual(sorted(all.id, flags.id, item.id));
    expect(await deliveredTo(dashboardDelete.id!)).toEqual(sorted(all.id, deletes.id));
    expect(await deliveredTo(flagCreate.id!)).toEqual(sorted(all.id, flags.id));
    for (const id of [off.id, alerts.id, elsewhere.id]) {
      expect(
        (await db().select().from(notificationDeliveries).where(eq(notificationDeliveries.destinationId, id))).filter((d) =>
          d.eventId.startsWith("evt-"),
        ),
      ).toEqual([]);
    }
  });

  it("routes alert events by alert id and change-request events to their subscribers", async () => {
    // Destinations may only name alerts of their organization.
    const [alert1, alert2] = [(await createAlert(owner)).id, (await createAlert(owner)).id];
    const one = await createDestination(owner, {
      events: ["logs_alert_firing", "logs_alert_resolved"],
      filters: { alert_ids: [alert1] },
    });
    const any = await createDestination(owner, { events: ["logs_alert_firing"] });
    const approvals = await createDestination(owner, { events: ["change_request_created", "change_request_approved"] });
    const firing1 = event({ type: "logs_alert_firing", alertId: alert1 });
    const firing2 = event({ type: "logs_alert_firing", alertId: alert2 });
    const resolved2 = event({ type: "logs_alert_resolved", alertId: alert2 });
    const approved = event({ type: "change_request_approved" });
    await fanOut(firing1, firing2, resolved2, approved);
    expect(await deliveredTo(firing1.id!)).toEqual(sorted(one.id, any.id));
    expect(await deliveredTo(firing2.id!)).toEqual([any.id]);
    expect(await deliveredTo(resolved2.id!)).toEqual([]);
    expect(await deliveredTo(approved.id!)).toEqual([approvals.id]);
  });

  it("sends organization-level events to organization destinations and opted-in project destinations", async () => {
    const orgBase = `/api/organizations/${owner.organizationId}/destinations/`;
    const orgWide = await createDestination(owner, { events: ["activity_log_entry_created"] }, orgBase);
    const optedIn = await createDestination(owner, {
      events: ["activity_log_entry_created"],
      include_organization_activity: true,
      filters: { scopes: ["Organization"] },
    });
    const projectOnly = await createDestination(owner, {
      events: ["activity_log_entry_created"],
      filters: { scopes: ["Organization", "Project"] },
    });
    const orgEvent = event({ teamId: null, scope: "Organization", activity: "updated", itemId: owner.organizationId });
    const projectEvent = event({ scope: "Project", activity: "updated", itemId: String(owner.projectId) });
    await fanOut(orgEvent, projectEvent);
    expect(await deliveredTo(orgEvent.id!)).toEqual(sorted(orgWide.id, optedIn.id));
    expect((await deliveredTo(projectEvent.id!)).includes(orgWide.id)).toBe(false);
    expect((await deliveredTo(projectEvent.id!)).includes(projectOnly.id)).toBe(true);
  });

  it("sends organization-level activity to every activity destination of a project that includes it (seed 002's note)", async () => {
    const project = (await call("/api/projects/", { key: owner.key, body: { name: "Org-level" } })).body.id;
    const tenant = { ...owner, projectId: project };
    const plain = await createDestination(tenant, { events: ["activity_log_entry_created"] });
    const alerts = await createDestination(tenant, { events: ["logs_alert_firing"] });
    const before = event({ teamId: null, scope: "OrganizationMembership", activity: "joined", itemId: "u1" });
    await fanOut(before);
    expect((await deliveredTo(before.id!)).includes(plain.id)).toBe(false);

    const on = await call(`/api/projects/${project}/`, {
      key: owner.key,
      method: "PATCH",
      body: { receive_org_level_activity_logs: true },
    });
    expect(on.body.receive_org_level_activity_logs).toBe(true);
    const after = event({ teamId: null, scope: "OrganizationMembership", activity: "joined", itemId: "u2" });
    const alertEvent = event({ teamId: null, type: "logs_alert_firing", alertId: "a" });
    await fanOut(after, alertEvent);
    expect((await deliveredTo(after.id!)).includes(plain.id)).toBe(true);
    expect((await deliveredTo(alertEvent.id!)).includes(alerts.id)).toBe(false);
  });

  it("creates nothing twice when an event arrives again", async () => {
    const destination = await createDestination(owner, { events: ["change_request_expired"] });
    const expired = event({ type: "change_request_expired" });
    await fanOut(expired);
    const [delivery] = await db().select().from(notificationDeliveries).where(eq(notificationDeliveries.eventId, expired.id!));
    await fanOut(expired);
    await fanOut(expired, expired);
    const rows = await db().select().from(notificationDeliveries).where(eq(notificationDeliveries.eventId, expired.id!));
    expect(rows.map((r) => r.id)).toEqual([delivery!.id]);
    expect(rows[0]!.destinationId).toBe(destination.id);
  });

  it("keeps the index in step with enable, disable, filter edits and delete", async () => {
    const destination = await createDestination(owner, { events: ["activity_log_entry_created"], filters: { item_ids: ["a", "b"] } });
    const index = async () =>
      (await db().select().from(notificationSubscriptions).where(eq(notificationSubscriptions.destinationId, destination.id)))
        .map((r) => r.matchKey)
        .sort();
    expect(await index()).toEqual(["item:a", "item:b"]);
    const path = `${projectDestinations(owner)}${destination.id}/`;
    await call(path, { key: owner.key, method: "PATCH", body: { filters: { scopes: ["Dashboard"] } } });
    expect(await index()).toEqual(["scope:Dashboard"]);
    await call(path, { key: owner.key, method: "PATCH", body: { enabled: false } });
    expect(await index()).toEqual([]);
    await call(path, { key: owner.key, method: "PATCH", body: { enabled: true } });
    expect(await index()).toEqual(["scope:Dashboard"]);
    await call(path, { key: owner.key, method: "DELETE" });
    expect(await index()).toEqual([]);
  });

  it("acks a malformed event instead of retrying it forever", async () => {
    const result = await runQueue(QUEUE_NAMES.notifications, [
      { body: { kind: "event", event: { type: "nope" } as unknown as NotificationEvent } },
      { body: { kind: "mystery" } as never },
    ]);
    expect(result.explicitAcks).toHaveLength(2);
    expect(result.retryMessages).toEqual([]);
  });
});

describe("matching at scale", () => {
  const COUNT = 2000;
  let ids: string[] = [];
  let projectId: number;

  beforeAll(async () => {
    const project = await call("/api/projects/", { key: owner.key, body: { name: "Bulk" } });
    projectId = project.body.id;
    const now = new Date();
    const destinations: Destination[] = Array.from({ length: COUNT }, (_, i) => ({
      id: crypto.randomUUID(),
      organizationId: owner.organizationId,
      teamId: projectId,
      name: `bulk ${i}`,
      type: "webhook",
      url: "https://hooks.receiver.invalid/bulk",
      enabled: true,
      events: ["activity_log_entry_created", "logs_alert_firing"],
      filters: i % 2 ? { item_ids: [`bulk-item-${i}`] } : { scopes: [`BulkScope${i}`] },
      includeOrganizationActivity: false,
      secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      previousSecret: null,
      previousSecretExpiresAt: null,
      disabledReason: null,
      failingSince: null,
      lastSuccessAt: null,
      createdById: null,
      createdAt: now,
      updatedAt: now,
    }));
    ids = destinations.map((d) => d.id);
    const d = db();
    for (let i = 0; i < COUNT; i += 200) {
      const chunk = destinations.slice(i, i + 200);
      const statements = chunk.flatMap((destination) => [
        d.insert(notificationDestinations).values(destination),
        ...subscriptionInserts(d, destination),
      ]);
      const [first, ...rest] = statements;
      await d.batch([first!, ...rest]);
    }
  });

  it("finds an event's candidates with one primary-key range lookup, whatever the number of destinations", async () => {
    const target = event({ teamId: projectId, scope: "Irrelevant", activity: "updated", itemId: "bulk-item-1001" });
    const candidates = await candidatesQuery(db(), target);
    expect(candidates.map((c) => c.destination.name)).toEqual(["bulk 1001"]);
    const byScope = await candidatesQuery(db(), event({ teamId: projectId, scope: "BulkScope1000", activity: "x", itemId: "y" }));
    expect(byScope.map((c) => c.destination.name)).toEqual(["bulk 1000"]);

    const { sql, params } = candidatesQuery(db(), target).toSQL();
    const plan = await env.DB.prepare(`explain query plan ${sql}`)
      .bind(...params)
      .all<{ detail: string }>();
    const details = plan.results.map((r) => r.detail).join("\n");
    expect(details).toMatch(
      /SEARCH notification_subscriptions USING (COVERING )?INDEX sqlite_autoindex_notification_subscriptions_1 \(organization_id=\? AND event_type=\? AND team_key=\? AND match_key=\?\)/,
    );
    expect(details).toMatch(/SEARCH notification_destinations USING INDEX sqlite_autoindex_notification_destinations_1 \(id=\?\)/);
    expect(details).not.toMatch(/SCAN notification_subscriptions/);

    await fanOut(target);
    expect(await deliveredTo(target.id!)).toEqual([ids[1001]]);
  });
});
