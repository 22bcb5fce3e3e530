import type { RouteConfig, z } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import type { AppBindings } from "../auth/context";
import { validationError } from "../lib/errors";

// PostHog (Django REST framework) takes form-encoded bodies wherever it takes JSON, and the seeds'
// curl examples send `-d name="string"`. A route's form body becomes the JSON body it would have
// sent, read through the route's own schema as DRF reads form input: numbers and booleans from
// their text, lists from repeated keys, nested objects and lists as JSON strings. The JSON
// validation that follows is then the same for both.

const FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data"] as const;

const isForm = (contentType: string | undefined) => FORM_TYPES.some((type) => contentType?.split(";")[0]?.trim().toLowerCase() === type);

type Def = { type: string; [key: string]: any };
const defOf = (schema: unknown): Def => (schema as { _zod: { def: Def } })._zod.def;

/** The schema a value is checked against, past optional/nullable/default/refine/transform wrappers. */
function core(schema: z.ZodType): { def: Def; nullable: boolean } {
  let def = defOf(schema);
  let nullable = false;
  for (;;) {
    if (def.type === "nullable") nullable = true;
    if (["optional", "nullable", "default", "prefault", "readonly", "nonoptional", "catch"].includes(def.type)) def = defOf(def.innerType);
    else if (def.type === "pipe") def = defOf(defOf(def.in).type === "transform" ? def.out : def.in);
    else if (def.type === "lazy") def = defOf(def.getter());
    else return { def, nullable };
  }
}

const TRUE = new Set(["true", "True", "1", "on", "yes"]);
const FALSE = new Set(["false", "False", "0", "off", "no"]);

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function coerce(value: unknown, schema: z.ZodType): unknown {
  const { def, nullable } = core(schema);
  if (Array.isArray(value)) {
    return def.type === "array" ? value.map((v) => coerce(v, def.element)) : value.map((v) => coerce(v, schema));
  }
  if (typeof value !== "string") return value;
  if (nullable && value === "" && def.type !== "string") return null;
  switch (def.type) {
    case "string":
    case "enum":
    case "literal":
    case "template_literal":
      return value;
    case "number":
    case "int":
      return value.trim() === "" ? value : Number(value);
    case "boolean":
      return TRUE.has(value) ? true : FALSE.has(value) ? false : value;
    case "array":
      return value.trimStart().startsWith("[") ? parseJson(value) : [coerce(value, def.element)];
    default:
      return parseJson(value);
  }
}

async function formToJson(form: FormData, schema: z.ZodType): Promise<Record<string, unknown>> {
  const body: Record<string, unknown> = {};
  for (const [rawKey, value] of form.entries()) {
    const key = rawKey.endsWith("[]") ? rawKey.slice(0, -2) : rawKey;
    if (typeof value !== "string") throw validationError("File uploads are not accepted.", key);
    const previous = body[key];
    body[key] = previous === undefined ? (rawKey.endsWith("[]") ? [value] : value) : [previous, value].flat();
  }
  const { def } = core(schema);
  if (def.type !== "object") return body;
  const shape = def.shape as Record<string, z.ZodType>;
  return Object.fromEntries(Object.entries(body).map(([key, value]) => [key, shape[key] ? coerce(value, shape[key]) : value]));
}

const formBody = (schema: z.ZodType) =>
  createMiddleware<AppBindings>(async (c, next) => {
    const contentType = c.req.header("content-type");
    if (isForm(contentType)) {
      let form: FormData;
      try {
        form = await c.req.formData();
      } catch {
        throw validationError("Malformed form body.", null, "parse_error");
      }
      const json = JSON.stringify(await formToJson(form, schema));
      const headers = new Headers(c.req.raw.headers);
      headers.set("content-type", "application/json");
      c.req.raw = new Request(c.req.raw.url, { method: c.req.raw.method, headers, body: json });
      c.req.bodyCache = {};
    }
    await next();
  });

const FORM_DOC = {
  schema: { type: "object" as const, description: "The JSON body's fields; nested objects and lists as JSON strings." },
};

/** A route that takes a JSON body takes the same body form-encoded (documented and converted). */
export function withFormBodies<R extends RouteConfig>(route: R): R {
  const body = route.request?.body;
  const media = body?.content?.["application/json"];
  const schema = media && "schema" in media ? media.schema : undefined;
  if (!body || !schema || typeof schema !== "object" || !("_zod" in schema)) return route;
  const middleware = route.middleware ? [route.middleware].flat() : [];
  return {
    ...route,
    middleware: [...middleware, formBody(schema as z.ZodType)],
    request: {
      ...route.request,
      body: { ...body, content: { ...body.content, ...Object.fromEntries(FORM_TYPES.map((type) => [type, FORM_DOC])) } },
    },
  };
}
