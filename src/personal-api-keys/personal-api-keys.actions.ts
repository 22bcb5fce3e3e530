import { type ApprovalAction, displayIntent, orNull, parsedIntent, ValidationFailed } from "../approvals";
import { KeyCreateSchema, KeyUpdateSchema } from "./personal-api-keys.routes";
import {
  findKey,
  grantPreconditions,
  planPersonalApiKeyCreate,
  planPersonalApiKeyUpdate,
  validateRestrictions,
} from "./personal-api-keys.service";

// Approval actions this module owns: what an approved change request re-checks and writes, as the
// requester (`applied_by`), through the same plan functions as the handlers, so it records the same activity.

const describeCreate = displayIntent((label) => `Create personal API key "${label}" with all scopes`);
const describeWidening = displayIntent((label) => `Give personal API key "${label}" all scopes`);

/**
 * A `*` key, created (POST, no resource id) or made out of an existing key (PATCH of that key's
 * id): one policy guards both, so a narrow key cannot be widened past the gate its creation has.
 */
const createKeyWithAllScopes: ApprovalAction = {
  key: "personal_api_key.create",
  resourceType: "PersonalAPIKey",
  level: "organization",
  intentDisplay: (intent) => (intent.http_method === "PATCH" ? describeWidening(intent) : describeCreate(intent)),
  // A create has no earlier version to compare with; its apply re-validates the restrictions instead.
  preconditions: async ({ db, changeRequest }) => {
    if (changeRequest.resourceId === null) return {};
    const key = await orNull(findKey(db, changeRequest.createdById ?? 0, changeRequest.resourceId));
    return key ? grantPreconditions(key) : null;
  },
  apply: async ({ db, changeRequest, privateData }) => {
    const userId = changeRequest.createdById;
    if (userId === null) throw new ValidationFailed("the requester no longer exists");
    if (changeRequest.resourceId !== null) {
      const body = parsedIntent(KeyUpdateSchema.safeParse(changeRequest.intent.full_request_data));
      await validateRestrictions(db, userId, body);
      const key = await findKey(db, userId, changeRequest.resourceId);
      const { writes, entries } = await planPersonalApiKeyUpdate(db, userId, key, body);
      return { writes, entries, result: { resource_id: key.id, resource_version: null } };
    }
    const body = parsedIntent(KeyCreateSchema.safeParse(changeRequest.intent.full_request_data));
    await validateRestrictions(db, userId, body);
    const { id, secure_value, mask_value } = (privateData ?? {}) as Record<string, string | undefined>;
    if (!id || !secure_value || !mask_value) throw new ValidationFailed("the pending key is missing");
    const row = {
      id,
      userId,
      label: body.label,
      secureValue: secure_value,
      maskValue: mask_value,
      scopes: body.scopes,
      scopedOrganizations: body.scoped_organizations ?? null,
      scopedTeams: body.scoped_teams ?? null,
      createdAt: new Date(),
    };
    const { writes, entries } = await planPersonalApiKeyCreate(db, userId, row);
    return { writes, entries, result: { resource_id: id, resource_version: null } };
  },
};

export const personalApiKeysActions: ApprovalAction[] = [createKeyWithAllScopes];
