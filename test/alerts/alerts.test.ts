import { beforeAll, describe, expect, it } from "vitest";
import { activityRows, addMember, call, keyWithScopes, otherOrganization, signupFirstUser, type Tenant } from "../helpers";

let owner: Tenant;
let base: string;
beforeAll(async () => {
  owner = await signupFirstUser();
  base = `/api/projects/${owner.projectId}/logs/alerts`;
});

const errorsOnly = { severityLevels: ["error"] };
const create = (body: Record<string, unknown>, key = owner.key, path = base) => call(`${path}/`, { key, body });
const patch = (id: string, body: Record<string, unknown>, key = owner.key) => call(`${base}/${id}/`, { key, method: "PATCH", body });
const inMinutes = (n: number) => new Date(Date.now() + n * 60_000).toISOString();

describe("logs alerts CRUD", () => {
  it("creates an alert with PostHog's defaults and the server-managed fields", async () => {
    const res = await create({ filters: errorsOnly });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: "Untitled alert",
      enabled: true,
      filters: errorsOnly,
      threshold_count: 100,
      threshold_operator: "above",
      window_minutes: 5,
      check_interval_minutes: 5,
      state: "not_firing",
      evaluation_periods: 1,
      datapoints_to_alarm: 1,
      cooldown_minutes: 0,
      snooze_until: null,
      last_notified_at: null,
      last_checked_at: null,
      consecutive_failures: 0,
      last_error_message: null,
      destination_types: [],
      created_by: { id: owner.userId, email: expect.any(String) },
    });
    expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(res.body.next_check_at)).toBeLessThanOrEqual(Date.now());
    expect(res.body.first_enabled_at).toBe(res.body.created_at);
    const [row] = (await activityRows({ scope: "LogsAlertConfiguration", activity: "created" })).filter((r) => r.item_id === res.body.id);
    expect(row).toMatchObject({ team_id: owner.projectId, user_id: owner.userId, is_system: 0 });
    expect(row?.detail.changes[0]).toMatchObject({ action: "created", after: expect.objectContaining({ threshold_count: 100 }) });
  });

  it("keeps a disabled draft without filters, and derives the check interval from the window", async () => {
    const draft = await create({ name: "Draft", enabled: false, window_minutes: 1 });
    expect(draft.status).toBe(201);
    expect(draft.body).toMatchObject({
      enabled: false,
      filters: {},
      next_check_at: null,
      first_enabled_at: null,
      check_interval_minutes: 1,
    });
    const hourly = await create({ filters: { serviceNames: ["api"] }, window_minutes: 60 });
    expect(hourly.body).toMatchObject({ window_minutes: 60, check_interval_minutes: 5 });
  });

  it("validates every field with a 400 naming it", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{}, "filters"],
      [{ filters: {} }, "filters"],
      [{ filters: { severityLevels: [] } }, "filters"],
      [{ filters: { severityLevels: ["loud"] } }, "filters__severityLevels__0"],
      [{ filters: { searchTerm: "x" } }, "filters__searchTerm"],
      [{ filters: { filterGroup: [{ key: "nope", type: "log", operator: "exact", value: "x" }] } }, "filters__filterGroup__0__key"],
      [{ filters: { filterGroup: [{ key: "message", type: "log", operator: "regex", value: "(" }] } }, "filters__filterGroup__0__value"],
      [{ filters: errorsOnly, threshold_count: -1 }, "threshold_count"],
      [{ filters: errorsOnly, threshold_count: 1.5 }, "threshold_count"],
      [{ filters: errorsOnly, threshold_operator: "equals" }, "threshold_operator"],
      [{ filters: errorsOnly, window_minutes: 7 }, "window_minutes"],
      [{ filters: errorsOnly, evaluation_periods: 0 }, "evaluation_periods"],
      [{ filters: errorsOnly, evaluation_periods: 11 }, "evaluation_periods"],
      [{ filters: errorsOnly, evaluation_periods: 2, datapoints_to_alarm: 3 }, "datapoints_to_alarm"],
      [{ filters: errorsOnly, cooldown_minutes: -5 }, "cooldown_minutes"],
      [{ filters: errorsOnly, snooze_until: "2001-01-01T00:00:00Z" }, "snooze_until"],
      [{ filters: errorsOnly, snooze_until: "tomorrow" }, "snooze_until"],
      [{ filters: errorsOnly, name: "" }, "name"],
      [{ filters: errorsOnly, colour: "red" }, "colour"],
    ];
    for (const [body, attr] of cases) {
      const res = await create(body);
      expect([res.status, res.body.type, res.body.attr], JSON.stringify(body)).toEqual([400, "validation_error", attr]);
    }
  });

  it("ignores server-managed fields sent in a body", async () => {
    const res = await create({ filters: errorsOnly, state: "firing", consecutive_failures: 9, next_check_at: null });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ state: "not_firing", consecutive_failures: 0 });
    expect(res.body.next_check_at).not.toBeNull();
    const patched = await patch(res.body.id, { ...res.body, state: "broken", name: "Renamed" });
    expect(patched.body).toMatchObject({ name: "Renamed", state: "not_firing" });
  });

  it("lists with limit/offset, retrieves, and deletes with an activity row", async () => {
    const list = await call(`${base}/?limit=2`, { key: owner.key });
    expect(list.status).toBe(200);
    expect(list.body.results).toHaveLength(2);
    expect(list.body.count).toBeGreaterThanOrEqual(4);
    expect(list.body.next).toContain("offset=2");
    const id = list.body.results[0].id;
    expect((await call(`${base}/${id}`, { key: owner.key })).body.id).toBe(id);
    expect((await call(`${base}/${id}/`, { key: owner.key, method: "DELETE" })).status).toBe(204);
    expect((await call(`${base}/${id}/`, { key: owner.key })).status).toBe(404);
    const [row] = (await activityRows({ scope: "LogsAlertConfiguration", activity: "deleted" })).filter((r) => r.item_id === id);
    expect(row?.detail.changes[0]).toMatchObject({ action: "deleted" });
  });

  it("allows at most 20 alerts per project", async () => {
    const project = await call("/api/projects/", { key: owner.key, body: { name: "Crowded" } });
    const path = `/api/projects/${project.body.id}/logs/alerts`;
    const results = await Promise.all(
      Array.from({ length: 22 }, (_, i) => create({ name: `a${i}`, filters: errorsOnly }, owner.key, path)),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(20);
    const refused = results.filter((r) => r.status !== 201);
    expect(refused.map((r) => [r.status, r.body.code])).toEqual([
      [400, "max_alerts"],
      [400, "max_alerts"],
    ]);
    expect((await call(`${path}/`, { key: owner.key })).body.count).toBe(20);
  });

  it("guards access: no key, scopes, other organization, unknown id", async () => {
    const alert = (await create({ filters: errorsOnly })).body;
    expect((await call(`${base}/`)).status).toBe(401);
    const reader = await keyWithScopes(owner, ["logs:read"]);
    expect((await call(`${base}/${alert.id}/`, { key: reader })).status).toBe(200);
    const denied = await create({ filters: errorsOnly }, reader);
    expect([denied.status, denied.body.detail]).toEqual([403, "API key missing required scope 'logs:write'"]);
    expect((await patch(alert.id, { name: "x" }, reader)).status).toBe(403);
    expect((await call(`${base}/${alert.id}/`, { key: reader, method: "DELETE" })).status).toBe(403);
    expect((await call(`${base}/${alert.id}/reset/`, { key: reader, method: "POST" })).status).toBe(403);
    const unrelated = await keyWithScopes(owner, ["activity_log:read"]);
    expect((await call(`${base}/`, { key: unrelated })).status).toBe(403);
    expect((await call(`${base}/${alert.id}/events/`, { key: unrelated })).status).toBe(403);

    const stranger = await addMember(owner, 15);
    const foreign = await otherOrganization(stranger);
    expect((await call(`/api/projects/${foreign.projectId}/logs/alerts/`, { key: owner.key })).status).toBe(404);
    expect((await create({ filters: errorsOnly }, owner.key, `/api/projects/${foreign.projectId}/logs/alerts`)).status).toBe(404);
    const theirs = (await create({ filters: errorsOnly }, stranger.key, `/api/projects/${foreign.projectId}/logs/alerts`)).body;
    expect((await call(`${base}/${theirs.id}/`, { key: owner.key })).status).toBe(404);
    expect((await call(`/api/projects/${foreign.projectId}/logs/alerts/${theirs.id}/`, { key: owner.key })).status).toBe(404);
    expect((await call(`${base}/not-a-uuid/`, { key: owner.key })).status).toBe(404);
    expect((await call(`/api/environments/${owner.projectId}/logs/alerts/${alert.id}`, { key: owner.key })).status).toBe(200);
  });
});

describe("control-plane transitions", () => {
  const states = async (id: string) => {
    const events = await call(`${base}/${id}/events/`, { key: owner.key });
    return events.body.results.map((e: any) => [e.kind, e.state_before, e.state_after]).reverse();
  };

  it("disable keeps failures, enable resets them and schedules a check at once", async () => {
    const alert = (await create({ filters: errorsOnly })).body;
    const disabled = await patch(alert.id, { enabled: false });
    expect(disabled.body).toMatchObject({ enabled: false, state: "not_firing", next_check_at: null });
    const enabled = await patch(alert.id, { enabled: true });
    expect(enabled.body).toMatchObject({ enabled: true, state: "not_firing", consecutive_failures: 0 });
    expect(Date.parse(enabled.body.next_check_at)).toBeLessThanOrEqual(Date.now());
    expect(await states(alert.id)).toEqual([
      ["disable", "not_firing", "not_firing"],
      ["enable", "not_firing", "not_firing"],
    ]);
  });

  it("snoozes until snooze_until, unsnoozes with null; a rule change keeps a snooze", async () => {
    const alert = (await create({ filters: errorsOnly })).body;
    const until = inMinutes(90);
    const snoozed = await patch(alert.id, { snooze_until: until });
    expect(snoozed.body).toMatchObject({ state: "snoozed", snooze_until: new Date(until).toISOString() });
    expect(Date.parse(snoozed.body.next_check_at)).toBeGreaterThanOrEqual(Date.parse(until));
    const changed = await patch(alert.id, { threshold_count: 5 });
    expect(changed.body).toMatchObject({ state: "snoozed", threshold_count: 5 });
    const unsnoozed = await patch(alert.id, { snooze_until: null });
    expect(unsnoozed.body).toMatchObject({ state: "not_firing", snooze_until: null });
    expect(await states(alert.id)).toEqual([
      ["snooze", "not_firing", "snoozed"],
      ["threshold_change", "snoozed", "snoozed"],
      ["unsnooze", "snoozed", "not_firing"],
    ]);
  });

  it("records a field diff for each edit, and nothing for an edit that changes nothing", async () => {
    const alert = (await create({ filters: errorsOnly, name: "Diffed" })).body;
    await patch(alert.id, { threshold_count: 7, threshold_operator: "below", name: "Diffed" });
    await patch(alert.id, { threshold_count: 7 });
    const rows = (await activityRows({ scope: "LogsAlertConfiguration", activity: "updated" })).filter((r) => r.item_id === alert.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.detail.changes.map((c: any) => [c.field, c.before, c.after])).toEqual([
      ["threshold_count", 100, 7],
      ["threshold_operator", "above", "below"],
    ]);
  });

  it("enable wins over a snooze in the same edit; a rule change on a draft records threshold_change", async () => {
    const draft = (await create({ enabled: false })).body;
    const res = await patch(draft.id, { enabled: true, filters: errorsOnly, snooze_until: inMinutes(30) });
    expect(res.body).toMatchObject({ enabled: true, state: "snoozed" });
    expect(res.body.first_enabled_at).not.toBeNull();
    expect(await states(draft.id)).toEqual([["enable", "not_firing", "snoozed"]]);
    const refused = await patch(draft.id, { enabled: true, filters: {} });
    expect([refused.status, refused.body.attr]).toEqual([400, "filters"]);
    const inverted = await patch(draft.id, { evaluation_periods: 1, datapoints_to_alarm: 2 });
    expect([inverted.status, inverted.body.attr]).toEqual([400, "datapoints_to_alarm"]);
  });

  it("resets only broken alerts", async () => {
    const alert = (await create({ filters: errorsOnly })).body;
    const res = await call(`${base}/${alert.id}/reset/`, { key: owner.key, method: "POST" });
    expect([res.status, res.body.code]).toEqual([400, "not_broken"]);
    expect((await call(`${base}/00000000-0000-7000-8000-000000000000/reset/`, { key: owner.key, method: "POST" })).status).toBe(404);
  });
});

describe("alert destinations", () => {
  const link = (id: string, body: Record<string, unknown>, key = owner.key) => call(`${base}/${id}/destinations/`, { key, body });

  it("creates a destination for the alert's firing, resolved and broken notifications, and deletes it", async () => {
    const alert = (await create({ filters: errorsOnly, name: "Payments" })).body;
    const res = await link(alert.id, { type: "webhook", webhook_url: "https://hooks.example.com/alerts" });
    expect(res.status).toBe(201);
    expect(res.body.hog_function_ids).toHaveLength(1);
    expect(res.body.secret).toMatch(/^whsec_/);
    const [destinationId] = res.body.hog_function_ids;
    const destination = await call(`/api/projects/${owner.projectId}/destinations/${destinationId}/`, { key: owner.key });
    expect(destination.body).toMatchObject({
      type: "webhook",
      url: "https://hooks.example.com/alerts",
      events: ["logs_alert_firing", "logs_alert_resolved", "logs_alert_broken"],
      filters: { alert_ids: [alert.id] },
      secret: null,
    });
    const slack = await link(alert.id, {
      type: "slack",
      webhook_url: "https://hooks.slack.com/services/T0/B0/x",
      slack_channel_name: "alerts",
    });
    expect(slack.body.secret).toBeNull();
    expect((await call(`${base}/${alert.id}/`, { key: owner.key })).body.destination_types).toEqual(["slack", "webhook"]);
    const [created] = (await activityRows({ scope: "NotificationDestination", activity: "created" })).filter(
      (r) => r.item_id === destinationId,
    );
    expect(created?.detail.context).toEqual({ logs_alert_id: alert.id });

    const removed = await call(`${base}/${alert.id}/destinations/delete/`, { key: owner.key, body: { hog_function_ids: [destinationId] } });
    expect(removed.status).toBe(204);
    expect((await call(`/api/projects/${owner.projectId}/destinations/${destinationId}/`, { key: owner.key })).status).toBe(404);
    expect((await call(`${base}/${alert.id}/`, { key: owner.key })).body.destination_types).toEqual(["slack"]);

    expect((await call(`${base}/${alert.id}/`, { key: owner.key, method: "DELETE" })).status).toBe(204);
    expect(
      (await call(`/api/projects/${owner.projectId}/destinations/${slack.body.hog_function_ids[0]}/`, { key: owner.key })).status,
    ).toBe(404);
  });

  it("refuses unsupported types, missing and unsafe URLs, and ids of other alerts", async () => {
    const alert = (await create({ filters: errorsOnly })).body;
    const cases: [Record<string, unknown>, string][] = [
      [{ type: "teams", webhook_url: "https://example.com/x" }, "type"],
      [{ type: "slack", slack_workspace_id: "T0", slack_channel_id: "C0" }, "webhook_url"],
      [{ type: "webhook", webhook_url: "https://10.0.0.8/hook" }, "webhook_url"],
      [{ type: "webhook", webhook_url: "http://hooks.example.com/hook" }, "webhook_url"],
      [{ type: "webhook", webhook_url: "https://169.254.169.254/latest" }, "webhook_url"],
      [{ type: "email", webhook_url: "https://example.com/x" }, "type"],
    ];
    for (const [body, attr] of cases) {
      const res = await link(alert.id, body);
      expect([res.status, res.body.attr], JSON.stringify(body)).toEqual([400, attr]);
    }
    const other = (await create({ filters: errorsOnly })).body;
    const theirs = (await link(other.id, { type: "webhook", webhook_url: "https://hooks.example.com/a" })).body.hog_function_ids[0];
    const res = await call(`${base}/${alert.id}/destinations/delete/`, { key: owner.key, body: { hog_function_ids: [theirs] } });
    expect([res.status, res.body.attr]).toEqual([400, "hog_function_ids"]);
    const reader = await keyWithScopes(owner, ["logs:read"]);
    expect((await link(alert.id, { type: "webhook", webhook_url: "https://hooks.example.com/a" }, reader)).status).toBe(403);
  });
});

describe("OpenAPI", () => {
  it("documents every alert route with its body, and the approval 409 on gated ones", async () => {
    const { paths, components } = (await call("/api/schema/")).body;
    const alerts = "/api/projects/{project_id}/logs/alerts";
    expect(Object.keys(paths[alerts])).toEqual(expect.arrayContaining(["get", "post"]));
    expect(Object.keys(paths[`${alerts}/{id}`])).toEqual(expect.arrayContaining(["get", "patch", "delete"]));
    for (const path of ["simulate", "{id}/reset", "{id}/destinations", "{id}/destinations/delete"])
      expect(paths[`${alerts}/${path}`].post).toBeDefined();
    expect(paths[`${alerts}/{id}/events`].get).toBeDefined();
    expect(paths[`${alerts}/{id}`].patch.responses["409"]).toBeDefined();
    expect(paths[`${alerts}/{id}`].delete.responses["409"]).toBeDefined();
    const body = JSON.stringify(paths[alerts].post.requestBody);
    expect(body).toContain("LogsAlertCreate");
    expect(Object.keys(components.schemas.LogsAlertCreate.properties ?? {})).toEqual(
      expect.arrayContaining(["threshold_count", "window_minutes", "filters", "snooze_until"]),
    );
  });
});
