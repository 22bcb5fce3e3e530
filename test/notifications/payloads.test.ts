import type { ContextBlock, KnownBlock, SectionBlock } from "@slack/types";
import { describe, expect, expectTypeOf, it } from "vitest";
import { NOTIFICATION_EVENT_TYPES, type NotificationEventType } from "../../src/lib/messages";
import { type SlackMessage, slackBody, slackMessage, webhookBody } from "../../src/notifications/payloads";

const at = "2026-11-22T10:00:00.000Z";
const slack = (type: string, data: Record<string, unknown>) => JSON.parse(slackBody(type, at, data));
const olive = { id: 1, first_name: "Olive", last_name: "Owner", email: "olive@example.com" };

describe("webhook body", () => {
  it("is {type, timestamp, data}", () => {
    expect(JSON.parse(webhookBody("logs_alert_firing", at, { a: 1 }))).toEqual({
      type: "logs_alert_firing",
      timestamp: at,
      data: { a: 1 },
    });
  });
});

describe("Slack Block Kit", () => {
  it("says who did what to which item, with before and after", () => {
    const message = slack("activity_log_entry_created", {
      user: olive,
      activity: "updated",
      scope: "FeatureFlag",
      item_id: "42",
      team_id: 7,
      detail: {
        name: "new-checkout",
        changes: [
          { type: "FeatureFlag", action: "changed", field: "active", before: false, after: true },
          { type: "FeatureFlag", action: "changed", field: "filters", before: { groups: [] }, after: { groups: [{ rollout: 50 }] } },
        ],
      },
    });
    expect(message.text).toBe("*Olive Owner* updated FeatureFlag *new-checkout*");
    expect(message.blocks).toEqual([
      { type: "section", text: { type: "mrkdwn", text: message.text } },
      {
        type: "section",
        text: { type: "mrkdwn", text: '• *active*: `false` → `true`\n• *filters*: `{"groups":[]}` → `{"groups":[{"rollout":50}]}`' },
      },
      { type: "context", elements: [{ type: "mrkdwn", text: `project 7 · item 42 · ${at}` }] },
    ]);
  });

  it("names the system, escapes mrkdwn and bounds long change lists", () => {
    const changes = Array.from({ length: 14 }, (_, i) => ({
      type: "T",
      action: "changed",
      field: `f${i}`,
      before: "x".repeat(500),
      after: "<b>",
    }));
    const message = slack("activity_log_entry_created", {
      is_system: true,
      activity: "deleted",
      scope: "Dashboard",
      item_id: "9",
      detail: { name: "A & B <c>", changes },
    });
    expect(message.text).toBe("*The system* deleted Dashboard *A &amp; B &lt;c&gt;*");
    const details: string = message.blocks[1].text.text;
    expect(details.split("\n")).toHaveLength(11);
    expect(details).toContain("…and 4 more changes");
    expect(details).toContain("`&lt;b&gt;`");
    expect(details).not.toContain("x".repeat(200));
    expect(message.blocks[2].elements[0].text).toContain("organization");
  });

  it("gives an alert's name, count against threshold and window", () => {
    const alert = {
      alert: { id: "al-1", name: "Checkout errors" },
      result_count: 153,
      threshold_count: 100,
      threshold_operator: "above",
      window_minutes: 5,
    };
    expect(slack("logs_alert_firing", alert).text).toBe(
      ":rotating_light: *Checkout errors* is firing: 153 logs in 5 min (threshold: above 100)",
    );
    expect(slack("logs_alert_resolved", { ...alert, result_count: 12 }).text).toBe(
      ":white_check_mark: *Checkout errors* resolved: 12 logs in 5 min (threshold: above 100)",
    );
    expect(slack("logs_alert_broken", { ...alert, result_count: null, error_message: "query timed out" }).text).toBe(
      ":warning: *Checkout errors* is broken and stopped checking until it is reset: query timed out",
    );
    expect(slack("logs_alert_firing", alert).blocks.at(-1).elements[0].text).toContain("alert al-1");
  });

  it("tells each change-request step", () => {
    const request = {
      change_request: {
        id: "cr-1",
        action_key: "project.delete",
        intent_display: { description: "Delete project Web", before: { name: "Web" }, after: null },
        resource_type: "project",
        resource_id: "3",
        quorum: 2,
        approvals_received: 1,
      },
      requester: olive,
      actor: { first_name: "Ada", last_name: "Admin", email: "ada@example.com" },
    };
    expect(slack("change_request_created", { ...request, actor: null }).text).toBe(
      ":memo: *Olive Owner* requested approval for *Delete project Web*",
    );
    expect(slack("change_request_approved", request).text).toBe(":white_check_mark: Approved: *Delete project Web* by *Ada Admin*");
    expect(slack("change_request_rejected", { ...request, reason: "not now" }).text).toBe(
      ":x: Rejected: *Delete project Web* by *Ada Admin*: not now",
    );
    expect(slack("change_request_expired", { ...request, actor: null }).text).toBe(
      ":hourglass: Expired without enough approvals: *Delete project Web*",
    );
    expect(slack("change_request_applied", request).blocks.at(-1).elements[0].text).toBe(
      `\`project.delete\` · project 3 · 1 of 2 approvals · request cr-1 · ${at}`,
    );
  });
});

// What the producers publish (src/approvals/change-requests.queries.ts, src/alerts/logs-alert.object.ts,
// the activity row of src/notifications/fanout.ts), one per event type.
const changeRequest = {
  change_request: {
    id: "cr-9",
    action_key: "logs_alert.delete",
    intent_display: { description: 'Delete logs alert "Checkout errors"', before: { name: "Checkout errors" }, after: null },
    state: "pending",
    resource_type: "logs_alert",
    resource_id: "al-1",
    project_id: 7,
    expires_at: at,
    approvals_received: 0,
    quorum: 1,
    apply_error: null,
  },
  requester: olive,
  actor: olive,
};
const alertData = {
  alert: { id: "al-1", name: "Checkout errors", project_id: 7 },
  state: "firing",
  previous_state: "not_firing",
  result_count: 12,
  threshold_count: 10,
  threshold_operator: "above",
  window_minutes: 5,
  window_start: at,
  window_end: at,
  evaluated_at: at,
  reason: "threshold breached",
};
const EVENTS: Record<NotificationEventType, [data: Record<string, unknown>, headline: string]> = {
  activity_log_entry_created: [
    {
      id: "a-1",
      user: olive,
      activity: "updated",
      scope: "Project",
      item_id: "7",
      team_id: 7,
      detail: { name: "Web", changes: [{ type: "Project", action: "changed", field: "name", before: "Old", after: "Web" }] },
    },
    "*Olive Owner* updated Project *Web*",
  ],
  logs_alert_firing: [alertData, ":rotating_light: *Checkout errors* is firing: 12 logs in 5 min (threshold: above 10)"],
  logs_alert_resolved: [
    { ...alertData, result_count: 2 },
    ":white_check_mark: *Checkout errors* resolved: 2 logs in 5 min (threshold: above 10)",
  ],
  logs_alert_broken: [
    { ...alertData, result_count: null, error_message: "D1 timed out" },
    ":warning: *Checkout errors* is broken and stopped checking until it is reset: D1 timed out",
  ],
  change_request_created: [
    { ...changeRequest, actor: null },
    ':memo: *Olive Owner* requested approval for *Delete logs alert "Checkout errors"*',
  ],
  change_request_approved: [changeRequest, ':white_check_mark: Approved: *Delete logs alert "Checkout errors"* by *Olive Owner*'],
  change_request_applied: [changeRequest, ':rocket: Applied: *Delete logs alert "Checkout errors"* by *Olive Owner*'],
  change_request_rejected: [
    { ...changeRequest, reason: "too risky" },
    ':x: Rejected: *Delete logs alert "Checkout errors"* by *Olive Owner*: too risky',
  ],
  change_request_expired: [
    { ...changeRequest, actor: null },
    ':hourglass: Expired without enough approvals: *Delete logs alert "Checkout errors"*',
  ],
  activity_log_checkpoint_signed: [
    { message: "Signed checkpoint of the activity log: sequence 7, hash 00ff", checkpoint: { sequence: 7, hash: "00ff" } },
    ":bell: Signed checkpoint of the activity log: sequence 7, hash 00ff",
  ],
};

describe("every event type on Slack", () => {
  it("is a Block Kit message by @slack/types", () => {
    expectTypeOf<SlackMessage["blocks"][number]>().toExtend<KnownBlock>();
    expectTypeOf<SlackMessage["blocks"][number]>().toEqualTypeOf<SectionBlock | ContextBlock>();
  });

  it.each(NOTIFICATION_EVENT_TYPES)("%s reads as text", (type) => {
    const [data, headline] = EVENTS[type];
    const message: SlackMessage = slackMessage(type, at, data);
    expect(message.text).toBe(headline);
    expect(JSON.parse(slackBody(type, at, data))).toEqual(message);
    const texts = message.blocks.flatMap((block) =>
      block.type === "section" ? [block.text?.text] : block.elements.map((e) => ("text" in e ? e.text : "")),
    );
    for (const text of texts) {
      expect(text).toBeTruthy();
      expect(text).not.toMatch(/\[object Object\]|undefined|NaN/);
      expect(text!.length).toBeLessThanOrEqual(3000);
    }
  });

  it("never prints an object where a name belongs", () => {
    const message = slackMessage("activity_log_entry_created", at, {
      user: olive,
      activity: { x: 1 },
      scope: ["A"],
      detail: { name: { a: 1 } },
    });
    expect(message.text).toBe("*Olive Owner* changed item");
  });
});
