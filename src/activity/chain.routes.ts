import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, json, secured } from "../http/openapi";
import { LimitOffsetQuery, paginated } from "../lib/pagination";
import { OrganizationParams } from "../lib/path-params";

const tags = ["activity_log"];
const organization = "/api/organizations/{organization_id}";
const sequenceParam = (description: string) => z.coerce.number().int().min(1).optional().openapi({ description });

export const VerifyQuery = z.object({
  from_sequence: sequenceParam("First sequence to check (default: the start of the chain that retention left)."),
  to_sequence: sequenceParam("Last sequence to check (default: the head)."),
});

const VerifyResultSchema = z
  .object({
    verified: z
      .boolean()
      .openapi({ description: "Every row of this page matches its hash, follows the previous one and any signed checkpoint." }),
    checked: z.number().int(),
    first_sequence: z.number().int().nullable(),
    last_sequence: z.number().int().nullable(),
    first_broken_sequence: z.number().int().nullable(),
    reason: z.string().nullable(),
    next: z.string().nullable().openapi({ description: "The next page of the range, while it is verified and not done." }),
  })
  .openapi("ActivityLogVerification");

export const CheckpointSchema = z
  .object({
    id: z.string(),
    kind: z.enum(["signed", "retention"]).openapi({
      description: "`signed`: the daily signature of the head; `retention`: the last row the retention sweep deleted.",
    }),
    organization_id: z.string(),
    sequence: z.number().int(),
    hash: z.string(),
    created_at: z.string(),
    signed_at: z.string().nullable(),
    key_id: z.string().nullable(),
    signature: z
      .string()
      .nullable()
      .openapi({ description: "base64url Ed25519 signature of the RFC 8785 JSON of {organization_id, sequence, hash, signed_at}." }),
  })
  .openapi("ActivityLogCheckpoint");

export const PublicKeySchema = z
  .object({
    kty: z.literal("OKP"),
    crv: z.literal("Ed25519"),
    x: z.string(),
    kid: z.string(),
    alg: z.literal("EdDSA"),
    use: z.literal("sig"),
  })
  .openapi("ActivityLogPublicKey");

export const verifyChainRoute = createRoute({
  method: "get",
  path: `${organization}/activity_log/verify`,
  operationId: "activity_log_verify_retrieve",
  tags,
  summary: "Recompute a page of the organization's hash chain (admins)",
  description: "At most 10,000 rows per request; follow `next` for the rest of the range.",
  ...secured("activity_log:read", "admin"),
  request: { params: OrganizationParams, query: VerifyQuery },
  responses: { 200: json(VerifyResultSchema, "The verification of this page"), ...errorResponses },
});

export const listCheckpointsRoute = createRoute({
  method: "get",
  path: `${organization}/activity_log/checkpoints`,
  operationId: "activity_log_checkpoints_list",
  tags,
  summary: "Signed and retention checkpoints of the organization's hash chain, newest first (admins)",
  ...secured("activity_log:read", "admin"),
  request: { params: OrganizationParams, query: LimitOffsetQuery },
  responses: { 200: json(paginated(CheckpointSchema).openapi("ActivityLogCheckpointPage"), "Checkpoints"), ...errorResponses },
});

export const publicKeyRoute = createRoute({
  method: "get",
  path: "/api/activity_log/public_key",
  operationId: "activity_log_public_key_retrieve",
  tags,
  summary: "The Ed25519 public key (JWK) that verifies signed checkpoints; no authentication",
  responses: { 200: json(PublicKeySchema, "The public key"), ...errorResponses },
});
