/** An invite can be redeemed for this long after it was created (PostHog: 3 days). */
export const INVITE_VALIDITY_MS = 3 * 24 * 60 * 60 * 1000;
