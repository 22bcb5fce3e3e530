export const MembershipLevel = { member: 1, admin: 8, owner: 15 } as const;
export type MembershipLevelValue = (typeof MembershipLevel)[keyof typeof MembershipLevel];
export const MEMBERSHIP_LEVELS = [1, 8, 15] as const;
