// Baseline figures: the trivial route against authenticated reads, so other suites have a yardstick.
export async function run(ctx) {
  const state = ctx.freshState("foundation");
  const worker = await ctx.startWorker(state);
  try {
    const tenant = await ctx.signup(worker);
    const rows = [];
    for (const [label, path] of [
      ["GET /healthz (trivial)", "/healthz"],
      ["GET /api/users/@me/", "/api/users/@me/"],
      ["GET /api/organizations/", "/api/organizations/"],
      ["GET /api/projects/", "/api/projects/"],
    ]) {
      const client = await ctx.measure(
        async () => {
          const res = await ctx.request(worker, path, { key: tenant.key });
          if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
        },
        { iterations: 200, warmup: 20 },
      );
      rows.push({ route: label, p50: ctx.fmt(client.p50), p95: ctx.fmt(client.p95), p99: ctx.fmt(client.p99) });
    }
    ctx.table("Round trip to wrangler dev on 127.0.0.1 (200 sequential requests each)", rows);
  } finally {
    await worker.stop();
  }
}
