import type { Env } from "../env";
import { fromBase64, toBase64 } from "./ids";

// Secrets the service must use again later (webhook signing secrets) cannot be hashed, so they are
// sealed with AES-256-GCM under SECRETS_ENCRYPTION_KEY (a Worker secret) before they reach D1:
// a copy of the database alone does not reveal them.

const PREFIX = "sealed:v1:";
const IV_BYTES = 12;

async function key(env: Pick<Env, "SECRETS_ENCRYPTION_KEY">, usage: "encrypt" | "decrypt"): Promise<CryptoKey> {
  const raw = env.SECRETS_ENCRYPTION_KEY ? fromBase64(env.SECRETS_ENCRYPTION_KEY) : null;
  if (!raw || raw.length !== 32) throw new Error("SECRETS_ENCRYPTION_KEY must be 32 bytes, base64-encoded (see README, Configuration)");
  return crypto.subtle.importKey("raw", raw, "AES-GCM", false, [usage]);
}

export async function sealSecret(env: Pick<Env, "SECRETS_ENCRYPTION_KEY">, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await key(env, "encrypt"), new TextEncoder().encode(plaintext)),
  );
  const packed = new Uint8Array(IV_BYTES + ciphertext.length);
  packed.set(iv);
  packed.set(ciphertext, IV_BYTES);
  return `${PREFIX}${toBase64(packed)}`;
}

export async function openSecret(env: Pick<Env, "SECRETS_ENCRYPTION_KEY">, sealed: string): Promise<string> {
  if (!sealed.startsWith(PREFIX)) throw new Error("stored secret is not sealed");
  const packed = fromBase64(sealed.slice(PREFIX.length));
  const plaintext = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: packed.slice(0, IV_BYTES) },
    await key(env, "decrypt"),
    packed.slice(IV_BYTES),
  );
  return new TextDecoder().decode(plaintext);
}
