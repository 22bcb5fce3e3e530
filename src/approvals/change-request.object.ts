import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";

/**
 * STUB (issue #4 fills it): one object per change request will serialise votes, apply the intent
 * exactly once at quorum and expire the request from an alarm. Declared now so the binding and
 * its SQLite migration tag exist from the first deploy.
 */
export class ChangeRequestObject extends DurableObject<Env> {}
