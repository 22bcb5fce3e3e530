import { createRoute, z } from "@hono/zod-openapi";
import { json, jsonBody } from "../http/openapi";
import { ErrorSchema, throttledResponse } from "../lib/errors";
import { OrganizationSchema } from "../organizations";
import { ProjectSchema } from "../projects";
import { UserBasicSchema } from "../users";

export const SignupBody = z
  .object({
    email: z.string().trim().toLowerCase().email(),
    first_name: z.string().trim().min(1).max(150),
    last_name: z.string().trim().max(150).optional(),
    organization_name: z.string().trim().min(1).max(64).optional(),
    project_name: z.string().trim().min(1).max(200).optional(),
    invite_token: z
      .string()
      .max(200)
      .optional()
      .openapi({ description: "The `invite_token` that creating the invite returned (not the invite's id)." }),
    bootstrap_token: z
      .string()
      .max(200)
      .optional()
      .openapi({ description: "A deployed instance's first signup only: the BOOTSTRAP_TOKEN secret." }),
  })
  .openapi("Signup");

export const SignupResponse = z
  .object({
    user: UserBasicSchema,
    organization: OrganizationSchema,
    project: ProjectSchema.nullable(),
    personal_api_key: z.object({
      id: z.string(),
      label: z.string(),
      value: z.string().openapi({ description: "Shown only in this response." }),
      scopes: z.array(z.string()),
    }),
  })
  .openapi("SignupResult");

export const signup = createRoute({
  method: "post",
  path: "/api/signup",
  operationId: "signup_create",
  tags: ["signup"],
  summary: "Create the first user of an empty instance (deployed: with the bootstrap token), or join an organization with an invite",
  request: { body: jsonBody(SignupBody) },
  responses: {
    201: json(SignupResponse, "Signed up; the API key value is shown only here"),
    400: json(ErrorSchema, "Invalid input or invite"),
    403: json(ErrorSchema, "Signup is closed: the instance already has users and no invite was given"),
    429: throttledResponse("Throttled: too many signups from this IP address"),
  },
});
