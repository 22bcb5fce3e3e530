import createClient from "openapi-fetch";
import type { components, paths } from "../../../clients/typescript/schema";
import { currentToken } from "../session";

export type Schemas = components["schemas"];

/** The typed client of the API, generated from its OpenAPI document (`npm run viewer:types`). */
export const api = createClient<paths>({ baseUrl: window.location.origin });

api.use({
  onRequest({ request }) {
    const token = currentToken();
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    return request;
  },
});

/** The API's error `detail` (PostHog's envelope), or a plain description of what failed. */
export function errorDetail(error: unknown, response?: Response): string {
  const body = error as { detail?: string; attr?: string | null } | undefined;
  if (body?.detail) return body.attr ? `${body.detail} (${body.attr})` : body.detail;
  return response ? `Request failed with status ${response.status}.` : String(error);
}

/** Unwraps an openapi-fetch result: the data, or an Error carrying the API's detail. */
export async function must<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (error !== undefined || !response.ok) throw new Error(errorDetail(error, response));
  return data as T;
}
