import type { AlertCheckMessage, ExportMessage, NotificationMessage } from "./lib/messages";

/**
 * The Worker's bindings (wrangler.toml). Kernel: it imports no other layer. The Durable Object
 * namespaces stay untyped here; each object's module types its stubs (`changeRequestStub`, `alertStub`).
 */
export interface Env {
  DB: D1Database;
  EXPORTS_BUCKET: R2Bucket;
  /** The web viewer's static files (web/dist, built by `npm run viewer:build`). */
  ASSETS: Fetcher;
  CHANGE_REQUESTS: DurableObjectNamespace;
  LOGS_ALERTS: DurableObjectNamespace;
  ACTIVITY_SEQUENCER: DurableObjectNamespace;
  NOTIFICATIONS_QUEUE: Queue<NotificationMessage>;
  EXPORTS_QUEUE: Queue<ExportMessage>;
  ALERT_CHECKS_QUEUE: Queue<AlertCheckMessage>;
  /** Requests per personal API key (viewer links included), counted after authentication. */
  API_RATE_LIMITER: RateLimit;
  /** `POST /api/signup/` per client IP (`CF-Connecting-IP`). */
  SIGNUP_RATE_LIMITER: RateLimit;
  /** OTLP logs ingestion requests per project (its `api_token`). */
  INGEST_RATE_LIMITER: RateLimit;
  /** "off" skips the rate limiters (local benchmarks only); anything else, or unset, enforces them. */
  RATE_LIMITS?: string;
  /** "true" lets destinations point at http://127.0.0.1 / localhost (local development only). */
  ALLOW_LOOPBACK_DESTINATIONS: string;
  /**
   * "true" opens the first signup of an empty instance to anyone (`npm start`, tests). Otherwise it
   * needs `bootstrap_token` equal to BOOTSTRAP_TOKEN: a deployed instance is not claimed by whoever calls first.
   */
  ALLOW_OPEN_FIRST_SIGNUP: string;
  /** The first signup's secret on a deployed instance (`wrangler secret put BOOTSTRAP_TOKEN`); unset keeps it closed. */
  BOOTSTRAP_TOKEN?: string;
  /** 32 random bytes, base64: seals webhook signing secrets at rest (`wrangler secret put`). */
  SECRETS_ENCRYPTION_KEY: string;
  /** The Ed25519 private key (JWK, JSON text) that signs the activity chain's checkpoints (`wrangler secret put`). */
  AUDIT_SIGNING_KEY?: string;
}
