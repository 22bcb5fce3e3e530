// Notification fan-out and delivery end to end: activity rows written through the API batch
// endpoint -> outbox -> queue -> fan-out -> queue -> signed POSTs to a local receiver.
// (a) 10,000 rows, each matching exactly 1 of 1,000 item-filtered destinations;
// (b) 100 rows, each matching all of 10 unfiltered destinations.
// Reports deliveries/s, end-to-end latency, lost deliveries (must be 0) and duplicates seen by the receiver.
import { createServer } from "node:http";
import { createRequire } from "node:module";

const { Webhook } = createRequire(import.meta.url)("standardwebhooks");

const STALL_MS = 60_000;

/** A local receiver: records each webhook-id, checks every signature, answers 200 at once. */
async function startReceiver(secrets) {
  const seen = new Map();
  const latencies = [];
  let total = 0;
  let badSignatures = 0;
  let lastAt = 0;
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      total++;
      lastAt = performance.now();
      const id = req.headers["webhook-id"];
      seen.set(id, (seen.get(id) ?? 0) + 1);
      try {
        const event = new Webhook(secrets.get(req.url)).verify(body, req.headers);
        latencies.push(Date.now() - Date.parse(event.data.created_at));
      } catch {
        badSignatures++;
      }
      res.writeHead(200).end("ok");
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stats: () => ({ total, unique: seen.size, duplicates: total - seen.size, badSignatures, lastAt, latencies }),
    reset() {
      seen.clear();
      latencies.length = 0;
      total = 0;
      badSignatures = 0;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

async function inParallel(items, limit, fn) {
  const results = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i], i);
      }
    }),
  );
  return results;
}

async function createDestinations(ctx, worker, tenant, projectId, receiver, secrets, count, prefix, filters) {
  await inParallel(
    Array.from({ length: count }, (_, i) => i),
    8,
    async (i) => {
      const path = `/${prefix}/${i}`;
      const res = await ctx.request(worker, `/api/projects/${projectId}/destinations/`, {
        key: tenant.key,
        body: {
          name: `${prefix} ${i}`,
          type: "webhook",
          url: `${receiver.url}${path}`,
          events: ["activity_log_entry_created"],
          filters: filters(i),
        },
      });
      if (res.status !== 201) throw new Error(`destination ${i}: ${res.status} ${JSON.stringify(res.body)}`);
      secrets.set(path, res.body.secret);
    },
  );
}

/** Writes `rows` activity rows in batches of 1000 and waits until the receiver saw `expected` deliveries. */
async function run1(ctx, worker, tenant, projectId, receiver, { rows, expected, scope, itemId }) {
  receiver.reset();
  const started = performance.now();
  const writeMs = [];
  for (let offset = 0; offset < rows; offset += 1000) {
    const entries = Array.from({ length: Math.min(1000, rows - offset) }, (_, k) => ({
      scope,
      activity: "updated",
      item_id: itemId(offset + k),
      detail: {
        name: `row ${offset + k}`,
        changes: [{ type: scope, action: "changed", field: "n", before: offset + k - 1, after: offset + k }],
      },
    }));
    const res = await ctx.request(worker, `/api/projects/${projectId}/activity_log/`, { key: tenant.key, body: { entries } });
    if (res.status !== 201) throw new Error(`ingest: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    writeMs.push(res.ms);
  }
  const written = performance.now();
  let last = receiver.stats().unique;
  let lastProgress = performance.now();
  while (receiver.stats().unique < expected && performance.now() - lastProgress < STALL_MS) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = receiver.stats().unique;
    if (now !== last) {
      last = now;
      lastProgress = performance.now();
    }
  }
  // Late duplicates (at-least-once delivery) would show up shortly after the last first-time delivery.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const stats = receiver.stats();
  const seconds = (stats.lastAt - started) / 1000;
  const latency = ctx.summarize(stats.latencies);
  return {
    rows,
    "expected deliveries": expected,
    delivered: stats.unique,
    lost: expected - stats.unique,
    "duplicates seen": stats.duplicates,
    "bad signatures": stats.badSignatures,
    "write p50 (1000-row POST)": ctx.fmt(ctx.summarize(writeMs).p50),
    "writes done": `${((written - started) / 1000).toFixed(1)} s`,
    "all delivered": `${seconds.toFixed(1)} s`,
    "deliveries/s": (stats.unique / seconds).toFixed(0),
    "latency p50": `${(latency.p50 / 1000).toFixed(1)} s`,
    "latency p95": `${(latency.p95 / 1000).toFixed(1)} s`,
  };
}

export async function run(ctx) {
  const state = ctx.freshState("notifications");
  const secrets = new Map();
  const receiver = await startReceiver(secrets);
  const worker = await ctx.startWorker(state);
  const results = [];
  let leftovers;
  try {
    const tenant = await ctx.signup(worker);
    const second = await ctx.request(worker, "/api/projects/", { key: tenant.key, body: { name: "Ten destinations" } });

    const started = performance.now();
    await createDestinations(ctx, worker, tenant, tenant.projectId, receiver, secrets, 1000, "a", (i) => ({
      item_ids: [`item-${i}`],
      scopes: ["BenchA"],
    }));
    console.log(`1,000 destinations created through the API in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    await createDestinations(ctx, worker, tenant, second.body.id, receiver, secrets, 10, "b", () => ({ scopes: ["BenchB"] }));

    results.push({
      case: "10,000 rows -> 1 of 1,000",
      ...(await run1(ctx, worker, tenant, tenant.projectId, receiver, {
        rows: 10_000,
        expected: 10_000,
        scope: "BenchA",
        itemId: (k) => `item-${k % 1000}`,
      })),
    });
    results.push({
      case: "100 rows -> all of 10",
      ...(await run1(ctx, worker, tenant, second.body.id, receiver, {
        rows: 100,
        expected: 1000,
        scope: "BenchB",
        itemId: (k) => `b-${k}`,
      })),
    });
  } finally {
    await worker.stop();
    await receiver.close();
  }
  const db = ctx.openD1(state);
  try {
    const byStatus = db.prepare("select status, count(*) as n from notification_deliveries group by status").all();
    const attempts = db.prepare("select count(*) as n, sum(status = 'failed') as failed from notification_delivery_attempts").get();
    const outbox = db.prepare("select count(*) as n from notification_outbox").get();
    leftovers = {
      deliveries: byStatus.map((r) => `${r.status} ${r.n}`).join(", "),
      attempts: attempts.n,
      "failed attempts": attempts.failed ?? 0,
      "outbox rows left": outbox.n,
    };
  } finally {
    db.close();
  }
  ctx.table("Activity -> local receiver through the notifications queue (wrangler dev, 127.0.0.1)", results);
  ctx.table("D1 after the run", [leftovers]);
}
