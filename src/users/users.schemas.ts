import { z } from "@hono/zod-openapi";
import type { User } from "../auth/context";

export const UserBasicSchema = z
  .object({
    id: z.number().int(),
    uuid: z.string().uuid(),
    distinct_id: z.string(),
    first_name: z.string(),
    last_name: z.string(),
    email: z.string().email(),
    is_email_verified: z.boolean(),
    hedgehog_config: z.record(z.string(), z.unknown()).nullable(),
    role_at_organization: z.string().nullable(),
  })
  .openapi("UserBasic");
export type UserBasic = z.infer<typeof UserBasicSchema>;

export function serializeUserBasic(user: User): UserBasic {
  return {
    id: user.id,
    uuid: user.uuid,
    distinct_id: user.distinctId,
    first_name: user.firstName,
    last_name: user.lastName,
    email: user.email,
    is_email_verified: user.isEmailVerified,
    hedgehog_config: user.hedgehogConfig ?? null,
    role_at_organization: user.roleAtOrganization ?? null,
  };
}

export function displayName(user: Pick<User, "firstName" | "lastName" | "email">): string {
  return `${user.firstName} ${user.lastName}`.trim() || user.email;
}
