// Signed checkpoints: once a day each organization's chain head is signed with the instance's
// Ed25519 key (the AUDIT_SIGNING_KEY Worker secret, a private JWK) and published as the
// `activity_log_checkpoint_signed` event, so a copy can live outside the service.
import { sql } from "drizzle-orm";
import { createDb } from "../db/client";
import { activityChainCheckpoints } from "../db/schema";
import type { Env } from "../env";
import { outboxInsert, publishOutboxSafely } from "../events/outbox";
import { base64url, type CheckpointClaim, claimBytes, keyThumbprint, type SignedCheckpoint } from "../lib/chain-hash";
import { oncePerDay } from "../lib/daily";
import { uuidv7 } from "../lib/ids";
import type { NotificationEvent } from "../lib/messages";
import { iso } from "../lib/time";

const LAST_RUN_KEY = "activity_checkpoints_last_day";
const HEADS_PER_BATCH = 500;

export interface SigningKey {
  privateKey: CryptoKey;
  publicJwk: { kty: "OKP"; crv: "Ed25519"; x: string; kid: string; alg: "EdDSA"; use: "sig" };
}

let cached: { secret: string; key: Promise<SigningKey> } | null = null;

async function importSigningKey(secret: string): Promise<SigningKey> {
  const jwk = JSON.parse(secret) as JsonWebKey;
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || !jwk.x || !jwk.d) throw new Error("AUDIT_SIGNING_KEY is not an Ed25519 private JWK");
  const privateKey = await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x: jwk.x, d: jwk.d }, { name: "Ed25519" }, false, [
    "sign",
  ]);
  return { privateKey, publicJwk: { kty: "OKP", crv: "Ed25519", x: jwk.x, kid: await keyThumbprint(jwk), alg: "EdDSA", use: "sig" } };
}

/** The instance's signing key, or null when the secret is not set. */
export function signingKey(env: Env): Promise<SigningKey> | null {
  const secret = env.AUDIT_SIGNING_KEY;
  if (!secret) return null;
  if (cached?.secret !== secret) cached = { secret, key: importSigningKey(secret) };
  return cached.key;
}

export async function signClaim(key: SigningKey, claim: CheckpointClaim): Promise<SignedCheckpoint> {
  const signature = await crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, claimBytes(claim));
  return { ...claim, key_id: key.publicJwk.kid, signature: base64url(signature) };
}

export interface CheckpointSigningResult {
  signed: number;
  complete: boolean;
}

/** Signs every head that moved since its last signed checkpoint. */
export async function signCheckpoints(env: Env, now: number): Promise<CheckpointSigningResult> {
  const keyPromise = signingKey(env);
  if (!keyPromise) {
    console.warn("AUDIT_SIGNING_KEY is not set: activity checkpoints are not signed");
    return { signed: 0, complete: true };
  }
  const key = await keyPromise;
  const signedAt = iso(now) as string;
  let signed = 0;
  while (true) {
    const { results: heads } = await env.DB.prepare(
      `SELECT h.organization_id, h.sequence, h.hash FROM activity_chain_heads AS h
       WHERE NOT EXISTS (SELECT 1 FROM activity_chain_checkpoints AS c
         WHERE c.organization_id = h.organization_id AND c.kind = 'signed' AND c.sequence = h.sequence)
       LIMIT ?1`,
    )
      .bind(HEADS_PER_BATCH)
      .all<{ organization_id: string; sequence: number; hash: string }>();
    if (!heads.length) return { signed, complete: true };
    const checkpoints = await Promise.all(heads.map((h) => signClaim(key, { ...h, signed_at: signedAt })));
    const rows = checkpoints.map((cp) => [uuidv7(), cp.organization_id, cp.sequence, cp.hash, now, cp.key_id, cp.signature]);
    // The checkpoints' events go to the outbox in the same batch, so none is lost after the commit.
    const db = createDb(env.DB);
    const outbox = outboxInsert(db, [], checkpoints.map(checkpointEvent));
    await db.batch([
      db
        .insert(activityChainCheckpoints)
        .select(
          sql`SELECT value ->> 0, value ->> 1, 'signed', value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6 FROM json_each(${JSON.stringify(rows)}) WHERE true`,
        )
        .onConflictDoNothing(),
      outbox.statement,
    ]);
    await publishOutboxSafely(env, outbox.id, [], outbox.events);
    signed += heads.length;
  }
}

function checkpointEvent(checkpoint: SignedCheckpoint): NotificationEvent {
  return {
    id: `checkpoint:${checkpoint.organization_id}:${checkpoint.sequence}`,
    type: "activity_log_checkpoint_signed",
    organizationId: checkpoint.organization_id,
    teamId: null,
    occurredAt: checkpoint.signed_at,
    data: {
      message: `Signed checkpoint of the activity log: sequence ${checkpoint.sequence}, hash ${checkpoint.hash}`,
      checkpoint,
    },
  };
}

/** The cron entry: once per UTC day from 03:00 (see `oncePerDay`). */
export function runDailyCheckpointSigning(env: Env, now: number): Promise<CheckpointSigningResult | null> {
  return oncePerDay(env, LAST_RUN_KEY, now, () => signCheckpoints(env, now));
}
