import { z } from "@hono/zod-openapi";
import { cors } from "hono/cors";
import { createRouter } from "../http/router";
import { ErrorSchema, throttledResponse } from "../lib/errors";
import { ingestLogs, MAX_BODY_BYTES } from "./ingest.handlers";
import { OTLP_LIMITS } from "./otlp";

const OtlpAnyValueSchema = z
  .object({
    stringValue: z.string().optional(),
    boolValue: z.boolean().optional(),
    intValue: z.string().optional(),
    doubleValue: z.number().optional(),
    bytesValue: z.string().optional(),
    arrayValue: z.object({ values: z.array(z.unknown()) }).optional(),
    kvlistValue: z.object({ values: z.array(z.unknown()) }).optional(),
  })
  .openapi("OtlpAnyValue");
const OtlpKeyValueSchema = z.object({ key: z.string(), value: OtlpAnyValueSchema }).openapi("OtlpKeyValue");

const OtlpLogsRequestSchema = z
  .object({
    resourceLogs: z.array(
      z.object({
        resource: z.object({ attributes: z.array(OtlpKeyValueSchema) }).optional(),
        scopeLogs: z.array(
          z.object({
            scope: z.object({ name: z.string().optional(), version: z.string().optional() }).optional(),
            logRecords: z.array(
              z.object({
                timeUnixNano: z.string().optional().openapi({ example: "1767268800123456789" }),
                observedTimeUnixNano: z.string().optional(),
                severityNumber: z.number().int().optional().openapi({ example: 9 }),
                severityText: z.string().optional().openapi({ example: "INFO" }),
                body: OtlpAnyValueSchema.optional(),
                attributes: z.array(OtlpKeyValueSchema).optional(),
                flags: z.number().int().optional(),
                traceId: z.string().optional().openapi({ example: "5b8efff798038103d269b633813fc60c" }),
                spanId: z.string().optional().openapi({ example: "eee19b7ec3c1b174" }),
                eventName: z.string().optional(),
              }),
            ),
          }),
        ),
      }),
    ),
  })
  .openapi("OtlpExportLogsServiceRequest");

const OtlpResponseSchema = z
  .object({
    partialSuccess: z.object({ rejectedLogRecords: z.string(), errorMessage: z.string() }).optional(),
  })
  .openapi("OtlpExportLogsServiceResponse");

const errorContent = (description: string) => ({ description, content: { "application/json": { schema: ErrorSchema } } });

export const logsIngestRouter = createRouter();

logsIngestRouter.openAPIRegistry.registerComponent("securitySchemes", "ProjectAPIToken", {
  type: "http",
  scheme: "bearer",
  description: "The project's `api_token` (`phc_...`); `?token=` in the query string works too.",
});

// PostHog's path, and the OTLP/HTTP default signal path: exporters configured with only
// `OTEL_EXPORTER_OTLP_ENDPOINT=<base>` (SDKs, the Collector's otlphttp) post to `<base>/v1/logs`.
const INGEST_PATHS = ["/i/v1/logs", "/v1/logs"] as const;

// Registered by hand rather than with createRoute: the body may be gzipped or protobuf, which the
// JSON validator of a createRoute body cannot read; the handler validates it itself.
const ingestOperation = (path: (typeof INGEST_PATHS)[number]) => ({
  method: "post" as const,
  path,
  operationId: path === "/v1/logs" ? "logs_ingest_otlp_default_path_create" : "logs_ingest_create",
  tags: ["logs"],
  summary:
    path === "/v1/logs"
      ? "OTLP/HTTP logs ingestion at the OTLP default path (same as /i/v1/logs)"
      : "OTLP/HTTP logs ingestion (JSON or protobuf, optionally gzip)",
  description:
    "The OpenTelemetry logs endpoint: point an OTLP exporter at `<base>/i/v1/logs` (`OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`), or set " +
    `\`OTEL_EXPORTER_OTLP_ENDPOINT=<base>\` and it posts to \`<base>/v1/logs\`. At most ${OTLP_LIMITS.maxRecords} records ` +
    `and ${MAX_BODY_BYTES} bytes (before and after gzip) per request; a record over ${OTLP_LIMITS.maxRecordBytes} bytes or with a ` +
    "malformed trace/span id is rejected and reported in `partialSuccess`; a malformed payload is a 400 and stores nothing.",
  security: [{ ProjectAPIToken: [] }],
  request: {
    query: z.object({ token: z.string().optional().openapi({ description: "The project api_token, if not sent as a Bearer token." }) }),
    body: {
      required: true,
      content: {
        "application/json": { schema: OtlpLogsRequestSchema },
        "application/x-protobuf": { schema: z.string().openapi({ format: "binary" }) },
      },
    },
  },
  responses: {
    200: {
      description: "Accepted (with `partialSuccess` when some records were rejected)",
      content: {
        "application/json": { schema: OtlpResponseSchema },
        "application/x-protobuf": { schema: z.string().openapi({ format: "binary" }) },
      },
    },
    400: errorContent("Malformed payload; nothing was stored"),
    401: errorContent("Missing or invalid project token"),
    413: errorContent("Too many records or too large a body"),
    415: errorContent("Unsupported content type or encoding"),
    429: throttledResponse("Throttled: too many ingestion requests for this project"),
  },
});
for (const path of INGEST_PATHS) logsIngestRouter.openAPIRegistry.registerPath(ingestOperation(path));

// Browser SDKs export from web pages: the project token is a public ingestion key, as PostHog's `phc_` is.
const ingestCors = cors({
  origin: "*",
  allowMethods: ["POST", "OPTIONS"],
  allowHeaders: ["Content-Type", "Content-Encoding", "Authorization"],
  maxAge: 86_400,
});
for (const path of INGEST_PATHS) {
  logsIngestRouter.use(path, ingestCors);
  logsIngestRouter.post(path, ingestLogs);
}
