import { randomToken } from "../lib/ids";

/** An invite can be redeemed for this long after it was created (PostHog: 3 days). */
export const INVITE_VALIDITY_MS = 3 * 24 * 60 * 60 * 1000;

/**
 * An invite's signup secret: 43 characters of [A-Za-z0-9] (about 256 bits), apart from the invite's
 * id, which lists show to every member. Stored as its SHA-256 only, as API keys are.
 */
export const newInviteToken = () => `phi_${randomToken(43)}`;
