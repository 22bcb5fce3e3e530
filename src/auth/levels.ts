export const MembershipLevel = { member: 1, admin: 8, owner: 15 } as const;
export type MembershipLevelValue = (typeof MembershipLevel)[keyof typeof MembershipLevel];
export const MEMBERSHIP_LEVELS = [1, 8, 15] as const;

/**
 * Who may call a route, besides the key's scope: `user` any key's user (the route reaches no
 * organization or project through its path, e.g. the user's own keys), otherwise the least
 * membership level in the organization or project the path names.
 */
export type RouteLevel = "user" | keyof typeof MembershipLevel;
