// The floor Worker of `npm run bench floor` (issue 15 item 5): the same `wrangler dev`, the same
// D1 file, no framework, no authentication, no serialisation. For each endpoint it runs the D1
// statements the app runs, in one round trip, and answers their row count as plain text.
//
// It learns those statements from the app itself, once per endpoint: the app's fetch runs in this
// isolate over a D1 that records what it is sent (`harvest`). Reads keep the app's first batch
// (the one-trip key lookup and the guarded page statements); ingestion keeps the batch that
// inserts the rows, and aborts it (nothing is stored while harvesting). Every later request
// replays them: reads as they are, ingestion after parsing the request's body the way the app
// does, with the new rows' UUIDv7 ids made anew so each request inserts fresh rows.
import { app } from "../../src/app";
import { decodeOtlpProtobuf } from "../../src/logs/otlp-protobuf";

interface Captured {
  sql: string;
  params: unknown[];
}

interface Env {
  DB: D1Database;
}

class Harvested extends Error {}

/** A D1 stand-in that records statements; `keep` picks the batch to return and `abort` stops it from running. */
function recordingD1(real: D1Database, keep: (batch: Captured[]) => boolean, abort: boolean, sink: { batch?: Captured[] }) {
  const statement = (sql: string, params: unknown[] = []) => ({
    sql,
    params,
    bind: (...values: unknown[]) => statement(sql, values),
    first: (column?: string) =>
      run([{ sql, params }]).then((r) => {
        const row = r[0]?.results[0] as Record<string, unknown> | undefined;
        return row === undefined ? null : column === undefined ? row : row[column];
      }),
    all: () => run([{ sql, params }]).then((r) => r[0]),
    run: () => run([{ sql, params }]).then((r) => r[0]),
    raw: () => run([{ sql, params }]).then((r) => ((r[0]?.results ?? []) as Record<string, unknown>[]).map((row) => Object.values(row))),
  });
  async function run(batch: Captured[]): Promise<D1Result[]> {
    if (!sink.batch && keep(batch)) {
      sink.batch = structuredClone(batch);
      if (abort) throw new Harvested("harvested");
    }
    return real.batch(batch.map((s) => real.prepare(s.sql).bind(...s.params)));
  }
  const db = {
    prepare: (sql: string) => statement(sql),
    batch: (statements: { sql: string; params: unknown[] }[]) => run(statements.map(({ sql, params }) => ({ sql, params }))),
    exec: (sql: string) => real.exec(sql),
    withSession: () => ({ ...db, getBookmark: () => null }),
  };
  return db as unknown as D1Database;
}

interface Answer {
  body: ArrayBuffer;
  type: string;
}

const cache = new Map<string, { batch: Captured[]; answer: Answer }>();

/** The batch the app sends for `request` (`kind` read: its first; ingest: the one inserting rows), and the app's answer. */
async function harvest(
  env: Env,
  ctx: ExecutionContext,
  request: Request,
  kind: "read" | "ingest",
): Promise<{ batch: Captured[]; answer: Answer }> {
  const sink: { batch?: Captured[] } = {};
  const keep =
    kind === "read" ? () => true : (batch: Captured[]) => batch.some((s) => /INSERT INTO "?(activity_log|log_records)"?\b/i.test(s.sql));
  const response = await app.fetch(request, { ...env, DB: recordingD1(env.DB, keep, kind === "ingest", sink) }, ctx);
  const answer = { body: await response.arrayBuffer(), type: response.headers.get("content-type") ?? "text/plain" };
  if (!sink.batch) throw new Error(`${request.method} ${new URL(request.url).pathname}: no batch to harvest (${response.status})`);
  return { batch: sink.batch, answer };
}

const UUID_V7 = /[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/g;
const uuidTime = (uuid: string) => Number.parseInt(uuid.replace("-", "").slice(0, 12), 16);

function uuidv7(ms: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  for (let i = 0; i < 6; i++) bytes[i] = Math.floor(ms / 2 ** (8 * (5 - i))) & 0xff;
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The harvested batch with the ids made at harvest time (the new rows') replaced by fresh ones. */
function freshIds(batch: Captured[], harvestedAt: number): Captured[] {
  const fresh = new Map<string, string>();
  const now = Date.now();
  const swap = (text: string) =>
    text.replace(UUID_V7, (uuid) => {
      if (uuidTime(uuid) < harvestedAt) return uuid;
      const known = fresh.get(uuid);
      if (known) return known;
      const id = uuidv7(now);
      fresh.set(uuid, id);
      return id;
    });
  return batch.map(({ sql, params }) => ({ sql, params: params.map((p) => (typeof p === "string" ? swap(p) : p)) }));
}

async function replay(env: Env, batch: Captured[]): Promise<number> {
  const results = await env.DB.batch(batch.map((s) => env.DB.prepare(s.sql).bind(...s.params)));
  return results.reduce((n, r) => n + r.results.length, 0);
}

/** How the app reads each ingestion body: the hook for the protobuf floor is `protobuf`. */
const PARSERS: Record<string, (body: ArrayBuffer) => unknown> = {
  json: (body) => JSON.parse(new TextDecoder().decode(body)),
  protobuf: (body) => decodeOtlpProtobuf(new Uint8Array(body)),
};

const harvestedAt = new Map<string, number>();

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    // `/floor/read/<app path>`: the app's read at that path, with the caller's Authorization.
    // `/floor/answer/<app path>`: the same, answering the bytes the app answered when harvested
    // (what carrying the app's body costs, without making it).
    // `/floor/ingest/<json|protobuf>/<app path>`: the app's ingestion at that path, with this body.
    const read = /^\/floor\/(read|answer)\//.exec(url.pathname);
    const ingest = /^\/floor\/ingest\/(json|protobuf)\//.exec(url.pathname);
    if (!read && !ingest) return new Response("floor", { status: 200 });
    const appPath = url.pathname.slice((read ?? ingest)![0].length - 1);
    const target = new URL(appPath + url.search, url.origin);
    const body = request.method === "GET" ? null : await request.arrayBuffer();
    const key = `${request.method} ${target.pathname}${target.search} ${read && body ? new TextDecoder().decode(body) : ""}`;
    let harvested = cache.get(key);
    if (!harvested) {
      const started = Date.now();
      const init: RequestInit = { method: request.method, headers: request.headers };
      if (body) init.body = body;
      harvested = await harvest(env, ctx, new Request(target, init), read ? "read" : "ingest");
      cache.set(key, harvested);
      harvestedAt.set(key, started);
    }
    let { batch } = harvested;
    if (ingest && body) {
      (PARSERS[ingest[1]!] ?? PARSERS.json!)(body);
      batch = freshIds(batch, harvestedAt.get(key)!);
    }
    const rows = String(await replay(env, batch));
    if (read?.[1] === "answer") return new Response(harvested.answer.body, { headers: { "content-type": harvested.answer.type } });
    return new Response(rows);
  },
};
