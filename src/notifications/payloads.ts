import type { ContextBlock, SectionBlock } from "@slack/types";

// What receivers get: a Standard Webhooks body `{type, timestamp, data}`, or a Slack Block Kit
// message whose `text` is also the plain notification fallback.

export function webhookBody(type: string, timestamp: string, data: Record<string, unknown>): string {
  return JSON.stringify({ type, timestamp, data });
}

const MAX_SECTION_CHARS = 3000;
const MAX_CHANGES_SHOWN = 10;
const MAX_VALUE_CHARS = 120;

type Obj = Record<string, unknown>;
const obj = (value: unknown): Obj => (value && typeof value === "object" && !Array.isArray(value) ? (value as Obj) : {});
/** A scalar as text; null for empty values and for objects, which would print as "[object Object]". */
const str = (value: unknown): string | null =>
  typeof value === "string" ? value || null : typeof value === "number" || typeof value === "boolean" ? String(value) : null;

/** Slack's mrkdwn control characters; everything user-supplied goes through this. */
export const escapeSlack = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
const bold = (text: string) => `*${escapeSlack(text.replace(/\*/g, ""))}*`;

function userName(user: unknown): string | null {
  const u = obj(user);
  const name = [str(u.first_name), str(u.last_name)].filter(Boolean).join(" ");
  return name || str(u.email);
}

function valueText(value: unknown): string {
  if (value === undefined || value === null) return "_empty_";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return `\`${escapeSlack(clip(text, MAX_VALUE_CHARS).replace(/`/g, "'"))}\``;
}

interface Rendered {
  headline: string;
  details?: string;
  context: string[];
}

function renderActivity(data: Obj): Rendered {
  const detail = obj(data.detail);
  const who = data.is_system ? "The system" : (userName(data.user) ?? "Someone");
  const item = str(detail.name) ?? str(data.item_id);
  const headline = `${bold(who)} ${escapeSlack(str(data.activity) ?? "changed")} ${escapeSlack(str(data.scope) ?? "item")}${item ? ` ${bold(item)}` : ""}`;
  const changes = Array.isArray(detail.changes) ? (detail.changes as unknown[]).map(obj) : [];
  const lines = changes.slice(0, MAX_CHANGES_SHOWN).map((change) => {
    const field = str(change.field);
    if (!field) return `• ${escapeSlack(str(change.action) ?? "changed")} ${escapeSlack(str(change.type) ?? "")}`.trimEnd();
    return `• ${bold(field)}: ${valueText(change.before)} → ${valueText(change.after)}`;
  });
  if (changes.length > MAX_CHANGES_SHOWN) lines.push(`…and ${changes.length - MAX_CHANGES_SHOWN} more changes`);
  const context = [
    data.team_id !== null && data.team_id !== undefined ? `project ${data.team_id}` : "organization",
    data.item_id !== null && data.item_id !== undefined ? `item ${escapeSlack(String(data.item_id))}` : null,
    str(data.client) ? `via ${escapeSlack(String(data.client))}` : null,
    data.was_impersonated ? "impersonated" : null,
  ].filter((part): part is string => part !== null);
  return { headline, details: lines.join("\n") || undefined, context };
}

function renderAlert(type: string, data: Obj): Rendered {
  const alert = obj(data.alert);
  const name = bold(str(alert.name) ?? str(data.name) ?? "Logs alert");
  const count = data.result_count ?? data.count;
  const operator = str(data.threshold_operator) ?? "above";
  const threshold = data.threshold_count ?? data.threshold;
  const window = data.window_minutes;
  const measured =
    count !== undefined && count !== null
      ? `${count} logs in ${window ?? "?"} min (threshold: ${operator} ${threshold ?? "?"})`
      : `threshold: ${operator} ${threshold ?? "?"} in ${window ?? "?"} min`;
  const headline =
    type === "logs_alert_firing"
      ? `:rotating_light: ${name} is firing: ${measured}`
      : type === "logs_alert_resolved"
        ? `:white_check_mark: ${name} resolved: ${measured}`
        : `:warning: ${name} is broken and stopped checking until it is reset${str(data.error_message) ? `: ${escapeSlack(String(data.error_message))}` : ""}`;
  const context = [
    str(alert.id) ? `alert ${escapeSlack(String(alert.id))}` : null,
    str(data.evaluated_at) ? `checked ${data.evaluated_at}` : null,
  ].filter((part): part is string => part !== null);
  return { headline, context };
}

const CHANGE_REQUEST_VERBS: Record<string, [emoji: string, verb: string]> = {
  change_request_created: [":memo:", "requested approval for"],
  change_request_approved: [":white_check_mark:", "Approved:"],
  change_request_applied: [":rocket:", "Applied:"],
  change_request_rejected: [":x:", "Rejected:"],
  change_request_expired: [":hourglass:", "Expired without enough approvals:"],
};

function renderChangeRequest(type: string, data: Obj): Rendered {
  const request = obj(data.change_request);
  // `intent_display` is `{description, before, after}`; older events may carry the description alone.
  const what = bold(str(obj(request.intent_display).description) ?? str(request.intent_display) ?? str(request.action_key) ?? "a change");
  const [emoji, verb] = CHANGE_REQUEST_VERBS[type] ?? [":memo:", "Updated:"];
  const requester = userName(data.requester);
  const actor = userName(data.actor);
  const headline =
    type === "change_request_created"
      ? `${emoji} ${bold(requester ?? "Someone")} ${verb} ${what}`
      : `${emoji} ${verb} ${what}${actor ? ` by ${bold(actor)}` : ""}${str(data.reason) ? `: ${escapeSlack(String(data.reason))}` : ""}`;
  const context = [
    str(request.action_key) ? `\`${escapeSlack(String(request.action_key))}\`` : null,
    str(request.resource_type)
      ? `${escapeSlack(String(request.resource_type))} ${escapeSlack(String(request.resource_id ?? ""))}`.trim()
      : null,
    typeof request.quorum === "number" ? `${request.approvals_received ?? 0} of ${request.quorum} approvals` : null,
    str(request.id) ? `request ${escapeSlack(String(request.id))}` : null,
  ].filter((part): part is string => part !== null);
  return { headline, context };
}

function render(type: string, data: Obj): Rendered {
  if (type === "activity_log_entry_created") return renderActivity(data);
  if (type.startsWith("logs_alert_")) return renderAlert(type, data);
  if (type.startsWith("change_request_")) return renderChangeRequest(type, data);
  return { headline: `:bell: ${escapeSlack(str(data.message) ?? type)}`, context: [] };
}

/** A Slack incoming-webhook message: Block Kit blocks plus the `text` fallback Slack requires. */
export interface SlackMessage {
  text: string;
  blocks: (SectionBlock | ContextBlock)[];
}

export function slackMessage(type: string, timestamp: string, data: Record<string, unknown>): SlackMessage {
  const { headline, details, context } = render(type, data);
  const blocks: SlackMessage["blocks"] = [{ type: "section", text: { type: "mrkdwn", text: clip(headline, MAX_SECTION_CHARS) } }];
  if (details) blocks.push({ type: "section", text: { type: "mrkdwn", text: clip(details, MAX_SECTION_CHARS) } });
  blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: clip([...context, timestamp].join(" · "), MAX_SECTION_CHARS) }] });
  return { text: clip(headline, MAX_SECTION_CHARS), blocks };
}

export const slackBody = (type: string, timestamp: string, data: Record<string, unknown>): string =>
  JSON.stringify(slackMessage(type, timestamp, data));

export function requestBody(destinationType: "slack" | "webhook", type: string, timestamp: string, data: Record<string, unknown>): string {
  return destinationType === "slack" ? slackBody(type, timestamp, data) : webhookBody(type, timestamp, data);
}
