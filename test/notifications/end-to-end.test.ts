import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { activityLog, notificationDeliveries, notificationOutbox } from "../../src/db/schema";
import { ACTIVITY_EVENT_COLUMNS, activityEvent } from "../../src/events/outbox";
import { sweepNotificationOutbox } from "../../src/events/outbox-sweep.job";
import { QUEUE_NAMES } from "../../src/queues";
import { activityRows, call, db, signupFirstUser, type Tenant } from "../helpers";
import { createDestination, eventually, interceptFetch, type Received, runQueue, stopDeliveries } from "./notify-helpers";

// Everything here goes the real way: API write -> activity row + outbox -> queue -> fan-out ->
// queue -> delivery, with receivers standing behind the fetch interceptor.
let owner: Tenant;
let fetches: ReturnType<typeof interceptFetch>;
const inbox = (path: string) => fetches.received.filter((r) => new URL(r.url).pathname === path);
const firstIn = (path: string) => eventually(async () => inbox(path)[0]);
const parsed = (request: Received) => JSON.parse(request.body);

beforeAll(async () => {
  fetches = interceptFetch(() => new Response("ok"));
  owner = await signupFirstUser();
});
afterAll(async () => {
  await stopDeliveries();
  fetches.restore();
});

describe("activity to receivers", { timeout: 30_000 }, () => {
  it("delivers a project change to a signed webhook and a readable Slack message", async () => {
    const hook = await createDestination(owner, {
      url: "https://hooks.receiver.invalid/project",
      events: ["activity_log_entry_created"],
      filters: { scopes: ["Project"] },
    });
    await createDestination(owner, {
      type: "slack",
      url: "https://hooks.slack.com/slack",
      events: ["activity_log_entry_created"],
      filters: { scopes: ["Project"], activities: ["updated"] },
    });
    const rename = await call(`/api/projects/${owner.projectId}/`, {
      key: owner.key,
      method: "PATCH",
      body: { name: "Checkout <prod>" },
      headers: { "x-posthog-client": "ci-bot" },
    });
    expect(rename.status).toBe(200);

    const webhook = await firstIn("/project");
    const payload = new Webhook(hook.secret).verify(webhook.body, Object.fromEntries(webhook.headers)) as any;
    expect(payload.type).toBe("activity_log_entry_created");
    expect(payload.data).toMatchObject({
      scope: "Project",
      activity: "updated",
      item_id: String(owner.projectId),
      team_id: owner.projectId,
      organization_id: owner.organizationId,
      client: "ci-bot",
      is_system: false,
      user: { id: owner.userId, first_name: "Olive", last_name: "Owner" },
      detail: { name: "Checkout <prod>", changes: [{ field: "name", after: "Checkout <prod>" }] },
    });
    const [row] = await db().select().from(activityLog).where(eq(activityLog.id, payload.data.id));
    expect(row?.scope).toBe("Project");
    expect(payload.data.recorded_by).toEqual({
      user: { id: owner.userId, uuid: owner.userUuid, email: expect.stringContaining("@example.com") },
      api_key_id: row?.recordedByKeyId,
    });
    expect(row?.recordedByKeyId).toEqual(expect.any(String));
    expect(webhook.headers.get("webhook-id")).toMatch(/^[0-9a-f-]{36}$/);

    const slack = await firstIn("/slack");
    const message = parsed(slack);
    expect(message.text).toBe("*Olive Owner* updated Project *Checkout &lt;prod&gt;*");
    expect(message.blocks.map((b: any) => b.type)).toEqual(["section", "section", "context"]);
    expect(message.blocks[1].text.text).toMatch(/^• \*name\*: `.+` → `Checkout &lt;prod&gt;`$/);
    expect(message.blocks[2].elements[0].text).toContain(`project ${owner.projectId}`);
    expect(message.blocks[2].elements[0].text).toContain("via ci-bot");
  });

  it("sends organization-level activity to organization destinations", async () => {
    await createDestination(
      owner,
      { url: "https://hooks.receiver.invalid/org", events: ["activity_log_entry_created"] },
      `/api/organizations/${owner.organizationId}/destinations/`,
    );
    const res = await call(`/api/organizations/${owner.organizationId}/`, {
      key: owner.key,
      method: "PATCH",
      body: { name: "Renamed org" },
    });
    expect(res.status).toBe(200);
    const request = await eventually(async () => inbox("/org").find((r) => parsed(r).data.scope === "Organization"));
    expect(parsed(request).data).toMatchObject({
      scope: "Organization",
      team_id: null,
      activity: "updated",
      detail: { name: "Renamed org" },
    });
    // Project activity does not reach it.
    const before = inbox("/org").length;
    await call(`/api/projects/${owner.projectId}/`, { key: owner.key, method: "PATCH", body: { name: "Again" } });
    await eventually(async () => inbox("/project").length >= 2);
    expect(inbox("/org").length).toBe(before);
  });
});

describe("nothing lost, nothing waited for", { timeout: 30_000 }, () => {
  it("clears the outbox once the events are fanned out", async () => {
    await call(`/api/projects/${owner.projectId}/`, { key: owner.key, method: "PATCH", body: { name: "Outbox check" } });
    await eventually(async () => (await db().select().from(notificationOutbox)).length === 0);
  });

  it("republishes activity whose events never reached the queue (cron sweep)", async () => {
    const now = Date.now();
    const activityId = crypto.randomUUID();
    await db()
      .insert(activityLog)
      .values({
        id: activityId,
        organizationId: owner.organizationId,
        teamId: owner.projectId,
        activity: "updated",
        scope: "Project",
        itemId: String(owner.projectId),
        detail: { name: "Swept" },
        createdAt: new Date(now - 120_000),
      });
    // As if the Worker died between the commit and the queue send.
    await db()
      .insert(notificationOutbox)
      .values({ id: "stale-outbox", activityIds: [activityId], createdAt: new Date(now - 120_000), sweepAt: new Date(now - 60_000) });
    await db()
      .insert(notificationOutbox)
      .values({ id: "fresh-outbox", activityIds: [], createdAt: new Date(now), sweepAt: new Date(now + 60_000) });

    expect(await sweepNotificationOutbox(env, now)).toBe(1);
    // Re-armed (after as long as it waited), and cleared by the fan-out, not by the send.
    const [rearmed] = await db().select().from(notificationOutbox).where(eq(notificationOutbox.id, "stale-outbox"));
    expect(rearmed?.sweepAt.getTime() ?? now + 120_000).toBe(now + 120_000);
    expect(await sweepNotificationOutbox(env, now)).toBe(0);
    await eventually(async () => {
      const left = await db().select({ id: notificationOutbox.id }).from(notificationOutbox);
      return left.map((r) => r.id).join() === "fresh-outbox";
    });
    await db().delete(notificationOutbox);

    const request = await eventually(async () => inbox("/project").find((r) => parsed(r).data.id === activityId));
    expect(parsed(request).data.detail.name).toBe("Swept");
    // The same event published again (the live path and a sweep racing) creates no second delivery.
    const deliveries = async () => db().select().from(notificationDeliveries).where(eq(notificationDeliveries.eventId, activityId));
    const first = await deliveries();
    expect(new Set(first.map((d) => d.destinationId)).size).toBe(first.length);
    const [row] = await db().select(ACTIVITY_EVENT_COLUMNS).from(activityLog).where(eq(activityLog.id, activityId));
    const again = await runQueue(QUEUE_NAMES.notifications, [{ body: { kind: "event", event: activityEvent(row!) } }]);
    expect(again.explicitAcks).toHaveLength(1);
    expect((await deliveries()).map((d) => d.id).sort()).toEqual(first.map((d) => d.id).sort());
    expect(inbox("/project").filter((r) => parsed(r).data.id === activityId)).toHaveLength(1);
  });

  it("answers writes at normal speed while every receiver hangs or fails", async () => {
    fetches.respond(async (request) => {
      if (request.url.endsWith("/slack")) throw new TypeError("Network connection lost.");
      await new Promise((resolve) => setTimeout(resolve, 3000));
      return new Response("", { status: 503 });
    });
    try {
      const timings: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = Date.now();
        const res = await call(`/api/projects/${owner.projectId}/`, { key: owner.key, method: "PATCH", body: { name: `Down ${i}` } });
        timings.push(Date.now() - started);
        expect(res.status).toBe(200);
      }
      expect(Math.max(...timings)).toBeLessThan(1500);
      const recorded = (await activityRows({ scope: "Project", activity: "updated" })).filter((r) => r.detail.name.startsWith("Down"));
      expect(recorded).toHaveLength(5);
      // The deliveries exist and are being retried, not lost.
      await eventually(async () => {
        const rows = await db().select().from(notificationDeliveries).where(eq(notificationDeliveries.status, "retrying"));
        return rows.length >= 2;
      });
    } finally {
      fetches.respond(() => new Response("ok"));
    }
  });
});
