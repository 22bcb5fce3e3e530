import { eq } from "drizzle-orm";
import type { Context } from "hono";
import { bearerToken } from "../auth/authenticate";
import type { AppBindings } from "../auth/context";
import { createDb } from "../db/client";
import { projects } from "../db/schema";
import { enforceRateLimit } from "../http/rate-limit";
import { ApiError, notAuthenticated, validationError } from "../lib/errors";
import { type ParsedLogs, parseOtlpLogs, payloadTooLarge } from "./otlp";
import { decodeOtlpProtobuf, encodeOtlpProtobufResponse, parseOtlpProtobufLogs } from "./otlp-protobuf";
import { insertLogsStatements } from "./write.queries";

/** Largest request body, before and after decompression (a gzip bomb stops at this size). */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;
const DAY_MS = 86_400_000;

const unsupportedMediaType = (detail: string) => new ApiError(415, "invalid_request", "unsupported_media_type", detail);

interface TokenProject {
  id: number;
  logsRetentionDays: number;
}

/**
 * Valid tokens seen by this isolate, for TOKEN_CACHE_MS. Under concurrent exporters the token read
 * queues behind other requests' write batches in D1, so the cache is worth about 30% of ingestion
 * throughput. A reset or deleted project's token is forgotten at once by the isolate that changed it
 * (`forgetProjectToken`) and refused by the write itself if its project is gone; another isolate may
 * accept a reset token for at most TOKEN_CACHE_MS. Unknown tokens are never cached.
 */
const TOKEN_CACHE_MS = 30_000;
const TOKEN_CACHE_SIZE = 1000;
const tokenCache = new Map<string, { project: TokenProject; until: number }>();

export function forgetProjectToken(token: string): void {
  tokenCache.delete(token);
}

const invalidToken = () => new ApiError(401, "authentication_error", "authentication_failed", "Project API token is invalid.");

/** The project whose `api_token` the request carries (`Authorization: Bearer phc_...` or `?token=`). */
async function authenticateProject(c: Context<AppBindings>): Promise<{ token: string; project: TokenProject }> {
  const token = bearerToken(c.req.header("authorization")) ?? c.req.query("token");
  if (!token) throw notAuthenticated("Project API token was not provided: send `Authorization: Bearer <api_token>` or `?token=`.");
  const now = Date.now();
  const cached = tokenCache.get(token);
  if (cached && cached.until > now) return { token, project: cached.project };
  const [project] = await createDb(c.env.DB)
    .select({ id: projects.id, logsRetentionDays: projects.logsRetentionDays })
    .from(projects)
    .where(eq(projects.apiToken, token))
    .limit(1);
  if (!project) throw invalidToken();
  if (tokenCache.size >= TOKEN_CACHE_SIZE) tokenCache.clear();
  tokenCache.set(token, { project, until: now + TOKEN_CACHE_MS });
  return { token, project };
}

async function readLimited(stream: ReadableStream<Uint8Array>, what: string): Promise<Uint8Array> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_BODY_BYTES) {
      await reader.cancel();
      throw payloadTooLarge(`The ${what} is larger than ${MAX_BODY_BYTES} bytes.`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** The request body, size-limited and gunzipped (`Content-Encoding: gzip`, as OTLP exporters send it). */
async function readBody(request: Request): Promise<Uint8Array> {
  if (Number(request.headers.get("content-length") ?? 0) > MAX_BODY_BYTES) {
    throw payloadTooLarge(`The request body is larger than ${MAX_BODY_BYTES} bytes.`);
  }
  const encoding = (request.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  if (!request.body) return new Uint8Array();
  const identity = encoding === "identity" || encoding === "";
  if (!identity && encoding !== "gzip" && encoding !== "deflate") {
    throw unsupportedMediaType(`Content-Encoding ${encoding} is not supported; use gzip.`);
  }
  // A body whose length was declared (and checked above) is read in one piece: the runtime delivers
  // exactly Content-Length bytes, and the chunk loop of readLimited cost 12% of the Worker's time in
  // the protobuf ingestion profile (docs/performance.md). Bodies of unknown length (chunked) still
  // go through it, to stop at the limit.
  const length = request.headers.get("content-length");
  const received =
    length !== null && /^\d+$/.test(length) ? new Uint8Array(await request.arrayBuffer()) : await readLimited(request.body, "request body");
  if (received.byteLength > MAX_BODY_BYTES) throw payloadTooLarge(`The request body is larger than ${MAX_BODY_BYTES} bytes.`);
  if (identity) return received;
  try {
    return await readLimited(new Blob([received]).stream().pipeThrough(new DecompressionStream(encoding)), "decompressed body");
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw validationError(`The body is not valid ${encoding} data.`, null, "malformed_otlp");
  }
}

type Format = "json" | "protobuf";

function formatOf(contentType: string | undefined): Format {
  const mediaType = (contentType ?? "").split(";")[0]?.trim().toLowerCase();
  if (mediaType === "application/json") return "json";
  if (mediaType === "application/x-protobuf" || mediaType === "application/protobuf") return "protobuf";
  throw unsupportedMediaType("Send OTLP logs as application/json or application/x-protobuf.");
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw validationError(`Malformed OTLP payload: ${(error as Error).message}`, null, "malformed_otlp");
  }
}

function partialSuccess(parsed: ParsedLogs) {
  if (!parsed.rejected) return {};
  return { partialSuccess: { rejectedLogRecords: String(parsed.rejected), errorMessage: parsed.errors.join(" ") } };
}

/**
 * `POST /i/v1/logs` and `POST /v1/logs`: OTLP/HTTP logs (JSON or protobuf, optionally gzipped) for the project of the
 * token. The accepted records are stored in one D1 batch (all or nothing); records the OTLP
 * partial-success rules allow us to refuse are reported in `partialSuccess`.
 */
export async function ingestLogs(c: Context<AppBindings>): Promise<Response> {
  const { token, project } = await authenticateProject(c);
  // Per project, before the body is read (an OTLP exporter retries a 429 after its Retry-After).
  await enforceRateLimit(c.env, "INGEST_RATE_LIMITER", String(project.id));
  const format = formatOf(c.req.header("content-type"));
  const bytes = await readBody(c.req.raw);
  const now = Date.now();
  const options = { now, oldestMs: now - project.logsRetentionDays * DAY_MS };
  const parsed = format === "json" ? parseOtlpLogs(parseJson(bytes), options) : parseOtlpProtobufLogs(decodeOtlpProtobuf(bytes), options);
  if (parsed.rows.length) {
    const db = createDb(c.env.DB);
    const [first, ...rest] = insertLogsStatements(db, project.id, parsed.rows);
    try {
      if (first) await db.batch([first, ...rest]);
    } catch (error) {
      // The project was deleted since its token was cached (by another isolate): nothing was stored.
      if (!String(error).includes("FOREIGN KEY")) throw error;
      forgetProjectToken(token);
      throw invalidToken();
    }
  }
  const response = partialSuccess(parsed);
  if (format === "json") return c.json(response, 200);
  return c.body(encodeOtlpProtobufResponse(response), 200, { "content-type": "application/x-protobuf" });
}
