import { fromBase64, toBase64 } from "../lib/ids";

// Standard Webhooks (v1): HMAC-SHA256 over `${id}.${timestamp}.${body}` keyed by the base64
// bytes after `whsec_`, sent as `v1,<base64>`; several live secrets give several space-separated
// signatures so receivers accept either during a rotation.

const SECRET_PREFIX = "whsec_";
const SECRET_BYTES = 32;

export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${toBase64(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)))}`;
}

async function signOne(secret: string, content: Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    fromBase64(secret.slice(SECRET_PREFIX.length)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return `v1,${toBase64(new Uint8Array(await crypto.subtle.sign("HMAC", key, content)))}`;
}

/** The three Standard Webhooks headers for one attempt. */
export async function webhookHeaders(
  id: string,
  timestampSeconds: number,
  body: string,
  secrets: string[],
): Promise<Record<string, string>> {
  const content = new TextEncoder().encode(`${id}.${timestampSeconds}.${body}`);
  const signatures = await Promise.all(secrets.map((secret) => signOne(secret, content)));
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestampSeconds),
    "webhook-signature": signatures.join(" "),
  };
}
