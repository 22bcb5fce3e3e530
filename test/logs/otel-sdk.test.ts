import { SeverityNumber } from "@opentelemetry/api";
import { OTLPLogExporter as OTLPHttpJsonLogExporter } from "@opentelemetry/exporter-logs-otlp-http";
import { OTLPLogExporter as OTLPProtobufLogExporter } from "@opentelemetry/exporter-logs-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { LoggerProvider, type LogRecordExporter, SimpleLogRecordProcessor } from "@opentelemetry/sdk-logs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE, fetchWorker, signupFirstUser, type Tenant } from "../helpers";
import { queryLogs } from "./otlp-fixtures";

// The official exporters run here unchanged (their fetch transport is the one picked outside Node);
// their requests to BASE are handed to the Worker's own fetch handler instead of the network.
const realFetch = globalThis.fetch;
const seen: { url: string; contentType: string | null; status: number }[] = [];
beforeAll(() => {
  globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    if (!request.url.startsWith(BASE)) return realFetch(input, init);
    const response = await fetchWorker(request);
    seen.push({ url: request.url, contentType: request.headers.get("content-type"), status: response.status });
    return response;
  };
});
afterAll(() => {
  globalThis.fetch = realFetch;
});

let t: Tenant;
beforeAll(async () => {
  t = await signupFirstUser();
});

async function emitWith(exporter: LogRecordExporter, service: string) {
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ "service.name": service, "deployment.environment": "test" }),
    processors: [new SimpleLogRecordProcessor({ exporter })],
  });
  const logger = provider.getLogger("checkout", "2.1.0");
  logger.emit({
    severityNumber: SeverityNumber.INFO,
    severityText: "INFO",
    body: "order placed",
    attributes: { "order.id": "A-1", amount: 42 },
  });
  logger.emit({
    severityNumber: SeverityNumber.ERROR,
    severityText: "ERROR",
    body: { message: "payment failed", code: 402 },
    attributes: { retry: true, tags: ["card", "visa"] },
    eventName: "payment.failed",
  });
  await provider.forceFlush();
  await provider.shutdown();
}

describe.each([
  [
    "OTLP/HTTP JSON",
    "application/json",
    () => new OTLPHttpJsonLogExporter({ url: `${BASE}/i/v1/logs`, headers: { Authorization: `Bearer ${t.apiToken}` } }),
  ],
  ["OTLP/HTTP protobuf", "application/x-protobuf", () => new OTLPProtobufLogExporter({ url: `${BASE}/i/v1/logs?token=${t.apiToken}` })],
])("official OpenTelemetry SDK exporter: %s", (name, contentType, makeExporter) => {
  it("delivers logs that read back through query/", async () => {
    const service = `sdk-${contentType.split("/")[1]}`;
    const before = seen.length;
    await emitWith(makeExporter(), service);
    expect(seen.slice(before).every((r) => r.contentType === contentType && r.status === 200)).toBe(true);
    expect(seen.length - before).toBeGreaterThanOrEqual(1);

    const res = await queryLogs(t.key, t.projectId, { serviceNames: [service], orderBy: "earliest" });
    expect(res.status).toBe(200);
    expect(res.body.results).toHaveLength(2);
    const [info, error] = res.body.results;
    expect(info).toMatchObject({
      body: "order placed",
      severity_text: "info",
      severity_number: 9,
      service_name: service,
      instrumentation_scope: "checkout@2.1.0",
      attributes: { "order.id": "A-1", amount: "42" },
      resource_attributes: { "service.name": service, "deployment.environment": "test" },
    });
    expect(error).toMatchObject({ severity_text: "error", severity_number: 17, event_name: "payment.failed" });
    expect(JSON.parse(error.body)).toEqual({ message: "payment failed", code: 402 });
    expect(error.attributes).toEqual({ retry: "true", tags: '["card","visa"]' });
    expect(name).toContain("OTLP");
  });
});

// `OTEL_EXPORTER_OTLP_ENDPOINT=<base>` makes every exporter post to `<base>/v1/logs`. The builds
// picked in workerd do not read the environment, so the URL is given as that variable yields it;
// `npm run test:readme` runs the Node build configured by the variable alone against `npm start`.
describe.each([
  ["OTLP/HTTP JSON", (url: string) => new OTLPHttpJsonLogExporter({ url, headers: { Authorization: `Bearer ${t.apiToken}` } })],
  ["OTLP/HTTP protobuf", (url: string) => new OTLPProtobufLogExporter({ url, headers: { Authorization: `Bearer ${t.apiToken}` } })],
])("official exporter at the OTLP default path /v1/logs: %s", (name, makeExporter) => {
  it("is accepted and stored as at /i/v1/logs", async () => {
    const service = `default-path-${name.split(" ").at(-1)}`;
    const before = seen.length;
    await emitWith(makeExporter(`${BASE}/v1/logs`), service);
    expect(seen.slice(before).map((r) => [r.url, r.status])).toEqual([
      [`${BASE}/v1/logs`, 200],
      [`${BASE}/v1/logs`, 200],
    ]);
    const res = await queryLogs(t.key, t.projectId, { serviceNames: [service] });
    expect(res.body.results).toHaveLength(2);
  });
});
