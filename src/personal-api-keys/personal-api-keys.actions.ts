import { type ApprovalAction, displayIntent, parsedIntent, ValidationFailed } from "../approvals";
import { KeyCreateSchema } from "./personal-api-keys.routes";
import { planPersonalApiKeyCreate, validateRestrictions } from "./personal-api-keys.service";

// Approval actions this module owns: what an approved change request re-checks and writes, as the
// requester (`applied_by`), through the same plan functions as the handlers, so it records the same activity.

const createKeyWithAllScopes: ApprovalAction = {
  key: "personal_api_key.create",
  resourceType: "PersonalAPIKey",
  level: "organization",
  intentDisplay: displayIntent((label) => `Create personal API key "${label}" with all scopes`),
  // A create has no earlier version to compare with; the apply re-validates the restrictions instead.
  preconditions: async () => ({}),
  apply: async ({ db, changeRequest, privateData }) => {
    const userId = changeRequest.createdById;
    if (userId === null) throw new ValidationFailed("the requester no longer exists");
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
