import { exports } from "cloudflare:workers";
import { dereference, type Schema, validate } from "@cfworker/json-schema";
import { normalizePath } from "../src/lib/paths";

// Every response a test receives through `fetchWorker` (and so through `call`) must be one the served
// OpenAPI document describes: a documented status, a documented content type, and a JSON body valid
// against the documented schema. @cfworker/json-schema validates without code generation, which
// workerd forbids (ajv compiles validators with `new Function`).

type Operation = { responses: Record<string, { content?: Record<string, { schema?: Schema }> }> };
type Document = { paths: Record<string, Record<string, Operation>> };

const DOCUMENT_URI = "https://edge-audit.test/openapi.json";
// Served beside the API, not part of it: the health check, the document itself with its reference
// page, and the web viewer.
const OUTSIDE_THE_DOCUMENT = ["/healthz", "/api/schema", "/app"];
const ERROR_SCHEMA: Schema = { $ref: `${DOCUMENT_URI}#/components/schemas/Error` };

let loaded: Promise<{ document: Document; lookup: ReturnType<typeof dereference>; templates: Template[] }> | undefined;

interface Template {
  path: string;
  pattern: RegExp;
  params: number;
}

async function served() {
  loaded ??= (async () => {
    const res = await exports.default.fetch(new Request("http://audit.test/api/schema/"));
    const document = (await res.json()) as Document;
    const lookup = dereference(document as unknown as Schema, Object.create(null), new URL(DOCUMENT_URI));
    // Literal segments win over parameters: `/logs/alerts/simulate` before `/logs/alerts/{id}`.
    const templates = Object.keys(document.paths)
      .map((path) => {
        const parts = path.split(/\{[^}]+\}/).map((part) => part.replace(/[.*+?^$()|[\]\\]/g, "\\$&"));
        return { path, pattern: new RegExp(`^${parts.join("[^/]+")}$`), params: parts.length - 1 };
      })
      .sort((a, b) => a.params - b.params);
    return { document, lookup, templates };
  })();
  return loaded;
}

export class DocumentMismatch extends Error {}

/** Throws a DocumentMismatch naming the operation when the response is not one the document describes. */
export async function assertDocumented(method: string, url: string, status: number, contentType: string | null, body: unknown) {
  const { document, lookup, templates } = await served();
  const path = normalizePath(new URL(url).pathname);
  if (OUTSIDE_THE_DOCUMENT.some((p) => path === p || path.startsWith(`${p}/`))) return;
  const template = templates.find((t) => t.pattern.test(path));
  const operation = template ? document.paths[template.path]?.[method.toLowerCase()] : undefined;
  const where = `${method} ${template?.path ?? path} -> ${status}`;
  const check = (schema: Schema) => {
    const result = validate(body, schema, "2020-12", lookup, false);
    if (!result.valid) {
      const errors = result.errors.map((e) => `  ${e.instanceLocation}: ${e.error}`).slice(0, 12);
      throw new DocumentMismatch(`${where}: body does not match the document\n${errors.join("\n")}\nbody: ${JSON.stringify(body)}`);
    }
  };
  if (!operation) {
    // An unknown route or method: the API's 404 (or the CORS preflight's 204).
    if (method === "OPTIONS") return;
    if (status !== 404) throw new DocumentMismatch(`${where}: no such operation in the document`);
    return check(ERROR_SCHEMA);
  }
  const response = operation.responses[String(status)] ?? operation.responses.default;
  if (!response) throw new DocumentMismatch(`${where}: status not documented (has ${Object.keys(operation.responses).join(", ")})`);
  const mediaType = contentType?.split(";")[0]?.trim() ?? null;
  if (!response.content) {
    if (body !== null && body !== "") throw new DocumentMismatch(`${where}: a body the document does not describe`);
    return;
  }
  const media = mediaType ? response.content[mediaType] : undefined;
  if (!media) {
    throw new DocumentMismatch(`${where}: content type ${mediaType} not documented (has ${Object.keys(response.content).join(", ")})`);
  }
  if (mediaType === "application/json" && media.schema) check(media.schema);
}
