import { Webhook } from "standardwebhooks";
import { toBase64 } from "../lib/ids";

// Standard Webhooks (v1) through its reference library: HMAC-SHA256 over `${id}.${timestamp}.${body}`
// keyed by the base64 bytes after `whsec_`, sent as `v1,<base64>`. Several live secrets give several
// space-separated signatures so receivers accept either during a rotation.

const SECRET_PREFIX = "whsec_";
const SECRET_BYTES = 32;

export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${toBase64(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)))}`;
}

/** The three Standard Webhooks headers for one attempt. */
export function webhookHeaders(id: string, timestampSeconds: number, body: string, secrets: string[]): Record<string, string> {
  const timestamp = new Date(timestampSeconds * 1000);
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestampSeconds),
    "webhook-signature": secrets.map((secret) => new Webhook(secret).sign(id, timestamp, body)).join(" "),
  };
}
