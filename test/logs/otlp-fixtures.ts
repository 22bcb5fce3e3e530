import { call } from "../helpers";

export type AnyValue = Record<string, unknown>;
export const str = (stringValue: string): AnyValue => ({ stringValue });
export const kv = (key: string, value: AnyValue) => ({ key, value });

/** Nanoseconds since the epoch as OTLP/JSON writes them (a decimal string). */
export const nanos = (ms: number, extraNanos = 0) => (BigInt(ms) * 1_000_000n + BigInt(extraNanos)).toString();

export interface RecordSpec {
  body?: string;
  ms?: number;
  severityNumber?: number;
  severityText?: string;
  attributes?: Record<string, string>;
  traceId?: string;
  spanId?: string;
}

/** An ExportLogsServiceRequest with one resource per service. */
export function otlpPayload(services: Record<string, RecordSpec[]>, resource: Record<string, string> = {}) {
  return {
    resourceLogs: Object.entries(services).map(([service, records]) => ({
      resource: { attributes: [kv("service.name", str(service)), ...Object.entries(resource).map(([k, v]) => kv(k, str(v)))] },
      scopeLogs: [
        {
          scope: { name: "test-scope", version: "1.0.0" },
          logRecords: records.map((r) => ({
            timeUnixNano: nanos(r.ms ?? Date.now()),
            severityNumber: r.severityNumber ?? 9,
            severityText: r.severityText ?? "INFO",
            body: str(r.body ?? "hello"),
            attributes: Object.entries(r.attributes ?? {}).map(([k, v]) => kv(k, str(v))),
            ...(r.traceId !== undefined ? { traceId: r.traceId } : {}),
            ...(r.spanId !== undefined ? { spanId: r.spanId } : {}),
          })),
        },
      ],
    })),
  };
}

export function ingest(token: string | null, body: unknown, options: { raw?: string; headers?: Record<string, string> } = {}) {
  return call("/i/v1/logs", {
    key: token,
    body: options.raw === undefined ? body : undefined,
    raw: options.raw,
    headers: options.headers,
    method: "POST",
  });
}

export function queryLogs(key: string, projectId: number, query: Record<string, unknown>) {
  return call(`/api/projects/${projectId}/logs/query/`, { key, body: { query } });
}
