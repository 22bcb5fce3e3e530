import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";

/**
 * STUB (issue #7 fills it): one object per logs alert will run the N-of-M state machine for each
 * window the cron hands it. Declared now so the binding and its SQLite migration tag exist.
 */
export class LogsAlertObject extends DurableObject<Env> {}
