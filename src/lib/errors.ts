import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";
import { log } from "./log";

export type ErrorType = "validation_error" | "authentication_error" | "invalid_request" | "throttled_error" | "server_error";

export const ErrorSchema = z
  .object({
    type: z.string().openapi({ example: "validation_error" }),
    code: z.string().openapi({ example: "invalid_input" }),
    detail: z.string().openapi({ example: "This field is required." }),
    attr: z.string().nullable().openapi({ example: "name" }),
  })
  .passthrough()
  .openapi("Error");

/**
 * The one error type of the API; `extra` carries additional envelope fields (approval gates),
 * `headers` response headers (`Retry-After` of a 429).
 */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly type: ErrorType,
    readonly code: string,
    readonly detail: string,
    readonly attr: string | null = null,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }

  toJSON() {
    return { type: this.type, code: this.code, detail: this.detail, attr: this.attr, ...this.extra };
  }
}

export const validationError = (detail: string, attr: string | null = null, code = "invalid_input") =>
  new ApiError(400, "validation_error", code, detail, attr);
export const notAuthenticated = (detail = "Authentication credentials were not provided.") =>
  new ApiError(401, "authentication_error", "not_authenticated", detail);
export const permissionDenied = (detail = "You do not have permission to perform this action.") =>
  new ApiError(403, "authentication_error", "permission_denied", detail);
export const notFound = (detail = "Not found.") => new ApiError(404, "invalid_request", "not_found", detail);
export const conflict = (code: string, detail: string, extra: Record<string, unknown> = {}) =>
  new ApiError(409, "invalid_request", code, detail, null, extra);
/** PostHog's (DRF's) throttling answer: 429 with `Retry-After` in seconds. */
export const throttled = (retryAfterSeconds: number) =>
  new ApiError(
    429,
    "throttled_error",
    "throttled",
    `Request was throttled. Expected available in ${retryAfterSeconds} seconds.`,
    null,
    {},
    { "Retry-After": String(retryAfterSeconds) },
  );

/** D1's refusal of a write breaking a UNIQUE index on `column` (`table.column`): a race the check before it lost. */
export const isUniqueViolation = (error: unknown, column: string) =>
  String(error).includes("UNIQUE constraint failed") && String(error).includes(column);

/** Field path as PostHog/DRF names nested fields: `entries__3__scope`. */
export function attrOf(path: PropertyKey[]): string | null {
  return path.length ? path.map(String).join("__") : null;
}

export function fromZodError(error: ZodError): ApiError {
  const issue = error.issues[0];
  if (!issue) return validationError("Invalid input.");
  if (issue.code === "unrecognized_keys") {
    return validationError(`Unknown field: ${issue.keys.join(", ")}.`, attrOf([...issue.path, issue.keys[0] ?? ""]));
  }
  const missing = issue.code === "invalid_type" && /received undefined/.test(issue.message);
  const detail = missing ? "This field is required." : issue.message;
  return validationError(detail, attrOf(issue.path), missing ? "required" : "invalid_input");
}

export function errorResponse(err: Error, c: Context): Response {
  if (err instanceof ApiError) return c.json(err.toJSON(), err.status, err.headers);
  // drizzle wraps what its D1 call threw; a one-trip read's key check throws its 401/403/404 there.
  if (err.cause instanceof ApiError) return c.json(err.cause.toJSON(), err.cause.status, err.cause.headers);
  if (err instanceof HTTPException) {
    // Hono's body parsers throw HTTPException(400) for malformed JSON or form bodies.
    if (err.status === 400) return c.json(validationError(err.message, null, "parse_error").toJSON(), 400);
    return c.json(
      new ApiError(err.status as ContentfulStatusCode, "invalid_request", "error", err.message).toJSON(),
      err.status as ContentfulStatusCode,
    );
  }
  if (err instanceof SyntaxError) return c.json(validationError(`Malformed request: ${err.message}`, null, "parse_error").toJSON(), 400);
  log("error", "unhandled error", { error: err });
  return c.json(new ApiError(500, "server_error", "error", "A server error occurred.").toJSON(), 500);
}

/** The OpenAPI description of a 429 (`Retry-After` header, the envelope with `throttled_error`). */
export function throttledResponse(description: string) {
  return {
    description: `${description}; retry after \`Retry-After\` seconds`,
    headers: {
      "Retry-After": { description: "Seconds to wait before retrying", schema: { type: "integer" as const } },
    },
    content: { "application/json": { schema: ErrorSchema } },
  };
}

/** Error responses every authenticated route may answer, for the OpenAPI document. */
export const errorResponses = {
  400: { description: "Invalid input", content: { "application/json": { schema: ErrorSchema } } },
  401: { description: "Missing or invalid API key", content: { "application/json": { schema: ErrorSchema } } },
  403: { description: "Missing scope or permission", content: { "application/json": { schema: ErrorSchema } } },
  404: { description: "Not found", content: { "application/json": { schema: ErrorSchema } } },
  429: throttledResponse("Throttled: this API key made too many requests"),
  500: { description: "Server error", content: { "application/json": { schema: ErrorSchema } } },
} as const;
