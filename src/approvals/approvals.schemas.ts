import { z } from "@hono/zod-openapi";
import { MEMBERSHIP_LEVELS } from "../auth/levels";
import { LimitOffsetQuery } from "../lib/pagination";
import { ignoringReadOnly } from "../lib/validation";
import { UserBasicSchema } from "../users";
import { parseDuration } from "./duration";

// ----- approval policies -----

const Operator = z.enum([">", "<", ">=", "<=", "==", "!="]);
export const ConditionsSchema = z
  .union([
    z.object({}).strict(),
    z
      .object({
        type: z.enum(["before_after", "change_amount"]),
        field: z.string().min(1).max(200),
        operator: Operator,
        value: z.union([z.number(), z.string(), z.boolean()]),
      })
      .strict(),
    z.object({ type: z.literal("any_change"), field: z.string().min(1).max(200) }).strict(),
  ])
  .openapi("ApprovalPolicyConditions", {
    description:
      "Which changes need approval. `{}` = every change; `before_after` compares the new value of `field` with `value`; " +
      "`change_amount` compares new − old; `any_change` matches when `field` changes at all.",
    example: { type: "before_after", field: "level", operator: ">=", value: 15 },
  });

const ApproverConfigSchema = z
  .object({
    users: z.array(z.number().int()).max(100).default([]).openapi({ description: "User ids (organization members)." }),
    roles: z.array(z.string().uuid()).max(100).default([]).openapi({ description: "Role ids of the organization." }),
    quorum: z.number().int().min(1, "Quorum must be at least 1").max(100),
  })
  .strict()
  .openapi("ApproverConfig");

const BypassLevel = z
  .union([z.number().int(), z.string()])
  .refine((level) => (MEMBERSHIP_LEVELS as readonly number[]).includes(Number(level)), {
    message: "Membership levels are 1 (member), 8 (admin) or 15 (owner).",
  });

const Duration = z
  .string()
  .refine((text) => parseDuration(text) !== null, { message: 'Duration has wrong format. Use "[DD] [HH:[MM:]]ss" or ISO 8601 "P14D".' })
  .openapi({ example: "14 00:00:00" });

const PolicyWritable = z.object({
  action_key: z.string().openapi({ example: "project.delete" }),
  conditions: ConditionsSchema.nullable().optional(),
  approver_config: ApproverConfigSchema,
  allow_self_approve: z.boolean().optional(),
  bypass_org_membership_levels: z.array(BypassLevel).max(3).nullable().optional(),
  bypass_roles: z.array(z.string().uuid()).max(100).nullable().optional(),
  expires_after: Duration.optional().openapi({ description: 'How long a change request stays open; default "14 00:00:00".' }),
  enabled: z.boolean().optional(),
  organization_wide: z
    .boolean()
    .optional()
    .openapi({
      description:
        "True: the policy applies to every project of the organization (a project's own policy for the same action wins). " +
        "Organization-level actions are always organization-wide.",
    }),
});
export const PolicyCreateSchema = PolicyWritable.strict().openapi("ApprovalPolicyCreate", {
  example: { action_key: "logs_alert.update", approver_config: { users: [2], quorum: 1 } },
});
export const PolicyPatchSchema = PolicyWritable.partial().strict().openapi("ApprovalPolicyPatch");
export type PolicyInput = z.infer<typeof PolicyPatchSchema>;

export const PolicySchema = z
  .object({
    id: z.string().uuid(),
    action_key: z.string(),
    conditions: z.record(z.string(), z.unknown()),
    approver_config: z.object({ users: z.array(z.number().int()), roles: z.array(z.string()), quorum: z.number().int() }),
    allow_self_approve: z.boolean(),
    bypass_org_membership_levels: z.array(z.number().int()),
    bypass_roles: z.array(z.string()),
    expires_after: z.string(),
    enabled: z.boolean(),
    organization_wide: z.boolean(),
    created_by: UserBasicSchema.nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("ApprovalPolicy");

const BooleanText = z
  .string()
  .regex(/^(true|false|1|0)$/i, "Must be true or false.")
  .transform((v) => /^(true|1)$/i.test(v));

export const PolicyListQuery = LimitOffsetQuery.extend({
  action_key: z.string().optional(),
  enabled: BooleanText.optional(),
});

// ----- change requests -----

export const CHANGE_REQUEST_STATES = ["pending", "approved", "applied", "rejected", "expired", "failed"] as const;

const FieldValuesSchema = z.array(z.object({ path: z.string(), value: z.unknown() }));
export const IntentSchema = z
  .object({
    current_state: z.record(z.string(), FieldValuesSchema).default({}),
    gated_changes: z.record(z.string(), FieldValuesSchema).default({}),
    full_request_data: z.record(z.string(), z.unknown()).default({}),
    preconditions: z.record(z.string(), z.unknown()).default({}),
  })
  .passthrough()
  .openapi("ChangeIntent", {
    description: "`current_state` / `gated_changes`: `{field: [{path, value}]}` (what conditions read); any other keys are kept as sent.",
  });

const IntentDisplaySchema = z
  .object({ description: z.string().min(1).max(1000), before: z.unknown().optional(), after: z.unknown().optional() })
  .openapi("IntentDisplay");

export const ApprovalSchema = z
  .object({
    id: z.string(),
    created_by: UserBasicSchema.nullable(),
    decision: z.enum(["approved", "rejected"]),
    reason: z.string(),
    created_at: z.string(),
  })
  .openapi("Approval");

export const ChangeRequestSchema = z
  .object({
    id: z.string().uuid(),
    action_key: z.string(),
    action_version: z.number().int(),
    resource_type: z.string(),
    resource_id: z.string().nullable(),
    intent: z.record(z.string(), z.unknown()),
    intent_display: z.record(z.string(), z.unknown()),
    policy_snapshot: z.record(z.string(), z.unknown()),
    validation_status: z.enum(["valid", "invalid", "expired", "stale"]),
    validation_errors: z.record(z.string(), z.unknown()).nullable(),
    validated_at: z.string().nullable(),
    state: z.enum(CHANGE_REQUEST_STATES),
    created_by: UserBasicSchema.nullable(),
    applied_by: UserBasicSchema.nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    expires_at: z.string(),
    applied_at: z.string().nullable(),
    apply_error: z.string(),
    result_data: z.record(z.string(), z.unknown()).nullable(),
    approvals: z.array(ApprovalSchema),
    can_approve: z.boolean(),
    can_cancel: z.boolean(),
    is_requester: z.boolean(),
    user_decision: z.enum(["approved", "rejected"]).nullable(),
  })
  .openapi("ChangeRequest");

export const DecisionResponseSchema = z
  .object({
    status: z.string().openapi({ example: "applied" }),
    message: z.string().openapi({ example: "Approval recorded. 1/2 approvals received." }),
    change_request: ChangeRequestSchema,
    result: z.record(z.string(), z.unknown()).optional(),
  })
  .openapi("ChangeRequestDecision");

export const ChangeRequestListQuery = LimitOffsetQuery.extend({
  state: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .openapi({ description: "Comma-separated states (or the parameter repeated).", example: "pending,approved" }),
  action_key: z.string().optional(),
  requester: z.coerce.number().int().optional().openapi({ description: "User id of the requester." }),
  resource_type: z.string().optional(),
  resource_id: z.string().optional(),
});

// Seed 001's approve/reject/cancel examples send the change request's own fields (`action_key`).
const CHANGE_REQUEST_FIELDS = Object.keys(ChangeRequestSchema.shape);

export const ApproveBodySchema = ignoringReadOnly(
  CHANGE_REQUEST_FIELDS,
  z.object({ reason: z.string().max(2000).optional() }).strict(),
).openapi("ChangeRequestApprove", { description: "`reason`; the change request's read-only fields are accepted and ignored." });
export const RejectBodySchema = ignoringReadOnly(
  CHANGE_REQUEST_FIELDS,
  z.object({ reason: z.string().trim().min(1, "A reason is required for rejection.").max(2000) }).strict(),
).openapi("ChangeRequestReject", { description: "`reason` (required); the change request's read-only fields are accepted and ignored." });

export const AppChangeRequestCreateSchema = z
  .object({
    action_key: z
      .string()
      .max(128)
      .regex(/^app\.[a-z0-9_]+(?:[.:-][a-z0-9_]+)*$/, "App action keys start with `app.`, e.g. app.feature_flag.update.")
      .openapi({ example: "app.feature_flag.update" }),
    resource_type: z.string().min(1).max(64).openapi({ example: "FeatureFlag" }),
    resource_id: z.string().min(1).max(128).nullable().optional().openapi({ example: "42" }),
    intent: IntentSchema,
    intent_display: IntentDisplaySchema,
  })
  .strict()
  .openapi("AppChangeRequestCreate");

export const GateNotRequiredSchema = z
  .object({
    status: z.literal("not_required"),
    message: z.string(),
    change_request: z.null(),
  })
  .openapi("ApprovalNotRequired");

export const CompleteBodySchema = z
  .object({
    success: z.boolean(),
    result_data: z.record(z.string(), z.unknown()).nullable().optional(),
    apply_error: z.string().max(2000).optional(),
  })
  .strict()
  .openapi("ChangeRequestComplete");

export const ApprovalGateErrorSchema = z
  .object({
    type: z.string(),
    code: z.enum(["approval_required", "change_request_pending"]),
    detail: z.string(),
    attr: z.null(),
    change_request_id: z.string(),
    change_request: ChangeRequestSchema,
    resource_type: z.string(),
    resource_id: z.string().nullable(),
    required_approvers: z.object({ users: z.array(z.number().int()), roles: z.array(z.string()), quorum: z.number().int() }).optional(),
  })
  .passthrough()
  .openapi("ApprovalGateConflict");

/** The 409 of a write guarded by an approval policy, for gated routes' OpenAPI responses. */
export const approvalGateResponses = {
  409: {
    description:
      "An approval policy guards this change: `approval_required` (a change request was created; the change happens when it is approved) " +
      "or `change_request_pending` (one is already open for this resource).",
    content: { "application/json": { schema: ApprovalGateErrorSchema } },
  },
} as const;
