// Approvals: latency and throughput of `approve`, on one change request (votes serialised by its
// Durable Object) and across 100 requests in parallel (one object each), against `wrangler dev`.

const APPROVERS = 50;

async function invitee(ctx, worker, owner, n) {
  const email = `approver${n}@example.com`;
  const invite = await ctx.request(worker, `/api/organizations/${owner.organizationId}/invites/`, {
    key: owner.key,
    body: { target_email: email, level: 1 },
  });
  const res = await ctx.request(worker, "/api/signup/", {
    body: { email, first_name: "Approver", invite_token: invite.body.invite_token },
  });
  if (res.status !== 201) throw new Error(`invitee signup failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { key: res.body.personal_api_key.value, userId: res.body.user.id };
}

function expectStatus(res, status, what) {
  if (res.status !== status) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}

/** Fires all approvals at once; returns client and server latency summaries and approvals per second. */
async function burst(ctx, worker, base, votes) {
  const started = performance.now();
  const results = await Promise.all(
    votes.map(({ key, id, project }) =>
      ctx.request(worker, `${project ? `/api/environments/${project}` : base}/change_requests/${id}/approve/`, { key, method: "POST" }),
    ),
  );
  const wall = performance.now() - started;
  const bad = results.filter((r) => r.status !== 200);
  if (bad.length) throw new Error(`${bad.length} approvals failed, e.g. ${bad[0].status} ${JSON.stringify(bad[0].body)}`);
  return {
    client: ctx.summarize(results.map((r) => r.ms)),
    server: ctx.summarize(results.map((r) => r.serverMs)),
    perSecond: (votes.length / wall) * 1000,
    results,
  };
}

const row = (ctx, scenario, m) => ({
  scenario,
  approvals: m.client.n,
  p50: ctx.fmt(m.client.p50),
  p99: ctx.fmt(m.client.p99),
  "server p50": ctx.fmt(m.server.p50),
  "server p99": ctx.fmt(m.server.p99),
  "approvals/s": m.perSecond.toFixed(0),
});

export async function run(ctx) {
  const state = ctx.freshState("approvals");
  const worker = await ctx.startWorker(state);
  try {
    const owner = await ctx.signup(worker);
    const base = `/api/environments/${owner.projectId}`;
    const approvers = [];
    for (let n = 0; n < APPROVERS; n++) approvers.push(await invitee(ctx, worker, owner, n));
    const policy = (action_key, users, quorum) =>
      ctx
        .request(worker, `${base}/approval_policies/`, { key: owner.key, body: { action_key, approver_config: { users, quorum } } })
        .then((res) => expectStatus(res, 201, `policy ${action_key}`));
    const ask = (action_key, resource_id) =>
      ctx
        .request(worker, `${base}/change_requests/`, {
          key: owner.key,
          body: { action_key, resource_type: "Bench", resource_id, intent: {}, intent_display: { description: `bench ${resource_id}` } },
        })
        .then((res) => expectStatus(res, 201, "change request").body.id);
    const rows = [];

    // One request, uncontended: one approver at a time (quorum 50, so every vote is accepted).
    await policy(
      "app.bench.single",
      approvers.map((a) => a.userId),
      APPROVERS,
    );
    const sequentialId = await ask("app.bench.single", "sequential");
    const sequential = [];
    const sequentialServer = [];
    const seqStarted = performance.now();
    for (const approver of approvers) {
      const res = await ctx.request(worker, `${base}/change_requests/${sequentialId}/approve/`, { key: approver.key, method: "POST" });
      expectStatus(res, 200, "sequential approve");
      sequential.push(res.ms);
      sequentialServer.push(res.serverMs);
    }
    rows.push(
      row(ctx, "1 request, 1 at a time", {
        client: ctx.summarize(sequential),
        server: ctx.summarize(sequentialServer),
        perSecond: (approvers.length / (performance.now() - seqStarted)) * 1000,
      }),
    );

    // One request, 50 approvers at once, 4 rounds: every vote queues on the same object.
    const single = [];
    for (let round = 0; round < 4; round++) {
      const id = await ask("app.bench.single", `burst-${round}`);
      single.push(
        await burst(
          ctx,
          worker,
          base,
          approvers.map((a) => ({ key: a.key, id })),
        ),
      );
      const last = single.at(-1).results.map((r) => r.body.change_request.state);
      if (last.filter((s) => s === "approved").length === 0) throw new Error("quorum not reached on the contended request");
    }
    rows.push(
      row(ctx, "1 request, 50 at once (x4)", {
        client: ctx.summarize(single.flatMap((m) => m.results.map((r) => r.ms))),
        server: ctx.summarize(single.flatMap((m) => m.results.map((r) => r.serverMs))),
        perSecond: single.reduce((s, m) => s + m.perSecond, 0) / single.length,
      }),
    );

    // 100 requests, quorum 2, both votes on each sent at once: 200 approvals over 100 objects.
    const [a, b] = approvers;
    await policy("app.bench.parallel", [a.userId, b.userId], 2);
    const ids = [];
    for (let i = 0; i < 100; i++) ids.push(await ask("app.bench.parallel", `parallel-${i}`));
    const parallel = await burst(
      ctx,
      worker,
      base,
      ids.flatMap((id) => [
        { key: a.key, id },
        { key: b.key, id },
      ]),
    );
    const approved = await ctx.request(worker, `${base}/change_requests/?state=approved&action_key=app.bench.parallel&limit=1`, {
      key: owner.key,
    });
    if (approved.body.count !== 100) throw new Error(`expected 100 approved requests, got ${approved.body.count}`);
    rows.push(row(ctx, "100 requests in parallel (quorum 2)", parallel));

    // 100 requests, quorum 1, with the built-in apply (project.delete): vote + apply in one D1 batch.
    const projects = [];
    for (let i = 0; i < 100; i++) {
      const res = await ctx.request(worker, "/api/projects/", {
        key: owner.key,
        body: { name: `Doomed ${i}`, organization: owner.organizationId },
      });
      projects.push(expectStatus(res, 201, "project").body.id);
    }
    await ctx
      .request(worker, `${base}/approval_policies/`, {
        key: owner.key,
        body: { action_key: "project.delete", organization_wide: true, approver_config: { users: [a.userId], quorum: 1 } },
      })
      .then((res) => expectStatus(res, 201, "project.delete policy"));
    const deletes = [];
    for (const project of projects) {
      const res = await ctx.request(worker, `/api/projects/${project}/`, { key: owner.key, method: "DELETE" });
      deletes.push({ key: a.key, id: expectStatus(res, 409, "gated delete").body.change_request_id, project });
    }
    // A project's change requests are reached through that project.
    const applied = await burst(ctx, worker, base, deletes);
    const states = applied.results.map((r) => r.body.status);
    if (states.some((s) => s !== "applied")) throw new Error(`not all applied: ${[...new Set(states)]}`);
    const left = await ctx.request(worker, "/api/projects/?limit=1", { key: owner.key });
    if (left.body.count !== 1) throw new Error(`expected only the first project left, found ${left.body.count}`);
    rows.push(row(ctx, "100 requests in parallel, quorum 1 + apply", applied));

    ctx.table("POST .../change_requests/:id/approve/ against wrangler dev on 127.0.0.1 (client round trip; server = Server-Timing)", rows);
  } finally {
    await worker.stop();
  }
}
