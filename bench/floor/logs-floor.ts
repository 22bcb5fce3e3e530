// The floor of protobuf logs ingestion (`npm run bench logs-protobuf`): the least a Worker must do for a
// request of the app's `POST /i/v1/logs`, with none of the app around it (no Hono, no middleware, no
// token lookup). It reads the body, decodes it with the same generated messages, turns it into rows
// and statements with the app's own functions and sends the same single D1 batch to the same local
// D1 file. The app's ingestion throughput divided by this one's is the share the app's own layers
// leave of what `wrangler dev` can do. `?stage=` stops early, to split the cost: `read` (the body
// only), `rows` (decoded and flattened), `statements` (built and rendered to SQL, not sent).
import { createDb } from "../../src/db/client";
import { decodeOtlpProtobuf, encodeOtlpProtobufResponse, parseOtlpProtobufLogs } from "../../src/logs/otlp-protobuf";
import { insertLogsStatements } from "../../src/logs/write.queries";

interface FloorEnv {
  DB: D1Database;
}

const DAY_MS = 86_400_000;

export default {
  async fetch(request: Request, env: FloorEnv): Promise<Response> {
    const url = new URL(request.url);
    if (request.method === "GET") return new Response("floor");
    const projectId = Number(url.searchParams.get("project"));
    const started = Date.now();
    const stage = url.searchParams.get("stage");
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (stage === "read") return answer(started, started);
    const now = Date.now();
    const parsed = parseOtlpProtobufLogs(decodeOtlpProtobuf(bytes), { now, oldestMs: now - 30 * DAY_MS });
    if (stage === "rows") return answer(started, started);
    const db = createDb(env.DB);
    const [first, ...rest] = insertLogsStatements(db, projectId, parsed.rows);
    if (stage === "statements") {
      // Rendered as db.batch would render them (insertLogsStatements builds only insert queries, which have toSQL).
      for (const statement of [first, ...rest]) (statement as unknown as { toSQL(): unknown } | undefined)?.toSQL();
      return answer(started, started);
    }
    const dbStarted = Date.now();
    if (first) await db.batch([first, ...rest]);
    return answer(started, dbStarted);
  },
} satisfies ExportedHandler<FloorEnv>;

function answer(started: number, dbStarted: number): Response {
  const ended = Date.now();
  return new Response(encodeOtlpProtobufResponse({}), {
    headers: { "content-type": "application/x-protobuf", "server-timing": `db;dur=${ended - dbStarted}, app;dur=${ended - started}` },
  });
}
