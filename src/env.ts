import type { AlertCheckMessage } from "./alerts/evaluation.job";
import type { LogsAlertObject } from "./alerts/logs-alert.object";
import type { ChangeRequestObject } from "./approvals/change-request.object";
import type { PrefetchedAccess } from "./auth/access";
import type { AuthContext } from "./auth/authenticate";
import type { ExportJob } from "./exports/exports.consumer";
import type { NotificationMessage } from "./notifications/notifications.consumer";

export interface Env {
  DB: D1Database;
  EXPORTS_BUCKET: R2Bucket;
  CHANGE_REQUESTS: DurableObjectNamespace<ChangeRequestObject>;
  LOGS_ALERTS: DurableObjectNamespace<LogsAlertObject>;
  NOTIFICATIONS_QUEUE: Queue<NotificationMessage>;
  EXPORTS_QUEUE: Queue<ExportJob>;
  ALERT_CHECKS_QUEUE: Queue<AlertCheckMessage>;
  /** "true" lets destinations point at http://127.0.0.1 / localhost (local development only). */
  ALLOW_LOOPBACK_DESTINATIONS: string;
  /** 32 random bytes, base64: seals webhook signing secrets at rest (`wrangler secret put`). */
  SECRETS_ENCRYPTION_KEY: string;
}

export interface AppBindings {
  Bindings: Env;
  Variables: {
    auth: AuthContext;
    /** Set by `authenticate` when the path names a project or organization (see `projectAccess`). */
    prefetchedAccess?: PrefetchedAccess;
  };
}
