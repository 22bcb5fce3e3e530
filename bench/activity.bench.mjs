// Activity log: 1,000,000 rows across 10 projects and 50 users, in an organization of 1,000 projects.
// (a) ingest rows/s through POST /activity_log/ batches; (b) p50/p95 of every documented filter on a
// 100-row page, next to the same SQL run directly on the same SQLite file; (c) export time and peak
// memory for 100k rows. Targets (issue #3): ingest >= 20,000 rows/s; every filter p95 <= 15 ms and
// within 2x of the raw SQL; export memory not growing with the row count.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { drive, rng, serverTiming, startWorker } from "./lib.mjs";

const ROWS = Number(process.env.ACTIVITY_BENCH_ROWS ?? 1_000_000);
const PROJECTS = 10;
/** The organization's projects for the large-tenant reads: `PROJECTS` with rows, the rest empty. */
const MANY_PROJECTS = 1000;
const USERS = 50;
const SPAN_MS = 350 * 86_400_000;
const ITERATIONS = Number(process.env.ACTIVITY_BENCH_ITERATIONS ?? 60);
// `ACTIVITY_BENCH_PARTS=seal,ingest` runs only those parts (seal, verify, indexes, filters, ingest,
// exports; filters need indexes); default: all of them.
const PARTS = new Set((process.env.ACTIVITY_BENCH_PARTS ?? "seal,verify,indexes,filters,ingest,exports").split(","));

const SCOPES = [
  ["FeatureFlag", 25],
  ["Insight", 20],
  ["Dashboard", 10],
  ["Experiment", 6],
  ["Cohort", 6],
  ["Survey", 5],
  ["Notebook", 5],
  ["Action", 4],
  ["Annotation", 4],
  ["Person", 3],
  ["HogFunction", 3],
  ["BatchExport", 2],
  ["Team", 2],
  ["OrganizationMembership", 1],
  ["PersonalAPIKey", 1],
  ["Role", 1],
  ["Comment", 1],
  ["Tag", 0.5],
  ["Integration", 0.4],
  ["Plugin", 0.1],
];
const ACTIVITIES = [
  ["updated", 55],
  ["created", 25],
  ["deleted", 10],
  ["exported", 3],
  ["sharing enabled", 2],
  ["launched", 2],
  ["commented", 3],
];
const CLIENTS = [
  [null, 70],
  ["sdk", 15],
  ["mcp", 10],
  ["terraform", 5],
];
const FIELDS = ["active", "rollout_percentage", "filters", "name", "description", "deleted", "tags"];
const WORDS = [
  "checkout",
  "onboarding",
  "pricing",
  "billing",
  "search",
  "signup",
  "landing",
  "beta",
  "mobile",
  "retention",
  "growth",
  "ai",
  "export",
];

function weighted(table, r) {
  const total = table.reduce((sum, [, w]) => sum + w, 0);
  let x = r * total;
  for (const [value, w] of table) {
    x -= w;
    if (x <= 0) return value;
  }
  return table[0][0];
}

function hex(random, n) {
  let out = "";
  for (let i = 0; i < n; i++) out += Math.floor(random() * 16).toString(16);
  return out;
}

/** A UUID v7 for `ms` (time-ordered like the service's ids). */
function uuidv7(random, ms) {
  const t = ms.toString(16).padStart(12, "0");
  return `${t.slice(0, 8)}-${t.slice(8)}-7${hex(random, 3)}-${(8 + Math.floor(random() * 4)).toString(16)}${hex(random, 3)}-${hex(random, 12)}`;
}

// Scopes the service records itself (SERVICE_SCOPES in src/audit/record.ts): ingest refuses them,
// so the ingest batches draw from the others (the seed, written straight into D1, keeps them all).
const SERVICE_SCOPES = new Set(["OrganizationMembership", "PersonalAPIKey", "Role"]);
const APP_SCOPES = SCOPES.filter(([scope]) => !SERVICE_SCOPES.has(scope));

/** One activity row's fields (shared by the seed and the ingest batches). */
function makeEntry(random, scopes = SCOPES) {
  const scope = weighted(scopes, random());
  const item = Math.floor(random() * 2000);
  const word = WORDS[Math.floor(random() * WORDS.length)];
  const changes = Array.from({ length: 1 + Math.floor(random() * 3) }, () => {
    const field = FIELDS[Math.floor(random() * FIELDS.length)];
    const boolean = field === "active" || field === "deleted";
    return {
      type: scope,
      action: "changed",
      field,
      before: boolean ? false : Math.floor(random() * 100),
      after: boolean ? true : Math.floor(random() * 100),
    };
  });
  return {
    scope,
    activity: weighted(ACTIVITIES, random()),
    item_id: `${scope.toLowerCase().slice(0, 3)}-${item}`,
    detail: { name: `${word}-${scope.toLowerCase()}-${item}`, short_id: String(item).padStart(6, "0"), changes },
  };
}

export function seed(db, tenant, endMs, rows = ROWS) {
  const random = rng(7);
  const insert = db.prepare(
    `INSERT INTO activity_log (id, organization_id, team_id, user_id, was_impersonated, is_system, client, ip_address, activity, item_id, scope, detail, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const startMs = endMs - SPAN_MS;
  db.exec("BEGIN");
  for (let i = 0; i < rows; i++) {
    const createdAt = Math.floor(startMs + (i / rows) * SPAN_MS);
    const system = random() < 0.05;
    const user = system ? null : tenant.users[Math.floor(random() * USERS)];
    const impersonated = !system && random() < 0.005 ? 1 : 0;
    const client = weighted(CLIENTS, random());
    const entry = makeEntry(random);
    insert.run(
      uuidv7(random, createdAt),
      tenant.organizationId,
      tenant.projects[i % PROJECTS],
      user,
      impersonated,
      system ? 1 : 0,
      client,
      `10.${Math.floor(random() * 4)}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}`,
      entry.activity,
      entry.item_id,
      entry.scope,
      JSON.stringify(entry.detail),
      createdAt,
    );
    if (i % 200_000 === 199_999) {
      db.exec("COMMIT");
      db.exec("BEGIN");
    }
  }
  db.exec("COMMIT");
  // What the daily sweep's PRAGMA optimize keeps current.
  db.exec("ANALYZE");
}

/** The workerd processes under a wrangler dev child, and their resident memory in MB. */
function workerdPids(rootPid) {
  const out = execFileSync("ps", ["-eo", "pid=,ppid=,comm="], { encoding: "utf8" });
  const children = new Map();
  const names = new Map();
  for (const line of out.trim().split("\n")) {
    const [pid, ppid, comm] = line.trim().split(/\s+/);
    names.set(Number(pid), comm);
    children.set(Number(ppid), [...(children.get(Number(ppid)) ?? []), Number(pid)]);
  }
  const found = [];
  const walk = (pid) => {
    for (const child of children.get(pid) ?? []) {
      if (names.get(child) === "workerd") found.push(child);
      walk(child);
    }
  };
  walk(rootPid);
  return found;
}

function rssMb(pids) {
  let kb = 0;
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      kb += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    } catch {
      // process gone
    }
  }
  return kb / 1024;
}

/**
 * `wrangler dev` reloads the Worker when a file of the project changes (other engineers edit the
 * tree while benchmarks run): a request cut by a reload is retried instead of failing the suite.
 */
export async function retrying(send) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      if (attempt >= 10 || !/fetch failed|other side closed|ECONNREFUSED|socket/i.test(`${error.message} ${error.cause?.message ?? ""}`))
        throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

/** GET with the server's timings: `app` (the whole request) and `db` (the page's queries). */
async function timedGet(worker, path, key) {
  const started = performance.now();
  const res = await retrying(() => fetch(`${worker.url}${path}`, { headers: { authorization: `Bearer ${key}` } }));
  const body = await res.json();
  return { status: res.status, body, ms: performance.now() - started, serverMs: serverTiming(res, "app"), dbMs: serverTiming(res, "db") };
}

export async function setupTenant(ctx, worker) {
  const owner = await ctx.signup(worker, "activity-bench@example.com");
  const projects = [owner.projectId];
  for (let i = 1; i < PROJECTS; i++) {
    const res = await retrying(() =>
      ctx.request(worker, "/api/projects/", {
        key: owner.key,
        body: { name: `Project ${i}`, organization: owner.organizationId },
      }),
    );
    if (res.status !== 201) throw new Error(`project: ${res.status} ${JSON.stringify(res.body)}`);
    projects.push(res.body.id);
  }
  const users = [owner.userId];
  const uuids = [];
  let memberKey;
  for (let i = 1; i < USERS; i++) {
    const email = `user${i}@bench.example.com`;
    const invite = await retrying(() =>
      ctx.request(worker, `/api/organizations/${owner.organizationId}/invites/`, {
        key: owner.key,
        body: { target_email: email, level: 1 },
      }),
    );
    if (invite.status !== 201) throw new Error(`invite: ${invite.status} ${JSON.stringify(invite.body)}`);
    const joined = await retrying(() =>
      ctx.request(worker, "/api/signup/", {
        body: { email, first_name: `User${i}`, last_name: "Bench", invite_token: invite.body.invite_token },
      }),
    );
    if (joined.status !== 201) throw new Error(`join: ${joined.status} ${JSON.stringify(joined.body)}`);
    if (i === 1) memberKey = joined.body.personal_api_key.value;
    users.push(joined.body.user.id);
    uuids.push(joined.body.user.uuid);
  }
  return { ...owner, projects, users, uuids, memberKey };
}

/** Projects without rows, so the organization has `MANY_PROJECTS` (the API would take minutes to create them). */
function addEmptyProjects(db, tenant) {
  const now = Date.now();
  const insert = db.prepare(
    `INSERT INTO projects (uuid, organization_id, name, api_token, timezone, logs_retention_days, created_at, updated_at)
     VALUES (?, ?, ?, ?, 'UTC', 30, ?, ?) RETURNING id`,
  );
  db.exec("BEGIN");
  const ids = [];
  for (let i = tenant.projects.length; i < MANY_PROJECTS; i++) {
    ids.push(insert.get(crypto.randomUUID(), tenant.organizationId, `Empty ${i}`, `phc_bench_${i}`, now, now).id);
  }
  db.exec("COMMIT");
  return ids;
}

/**
 * The organization with 1,000 projects: its log with team_ids of 1, 10, 200 and 1,000 projects (the
 * rows are in the first 10), and the SD Elements feed for a member and for the owner.
 */
async function measureManyProjects(ctx, worker, tenant, emptyProjects) {
  const orgLog = `/api/organizations/${tenant.organizationId}/advanced_activity_logs/`;
  const teamIds = (ids) => `${orgLog}?team_ids=${encodeURIComponent(JSON.stringify(ids))}`;
  const all = [...tenant.projects, ...emptyProjects];
  const cases = [
    ["organization log, team_ids of 1 project", teamIds([tenant.projects[3]]), `Bearer ${tenant.key}`],
    ["organization log, team_ids of 10 projects", teamIds(tenant.projects), `Bearer ${tenant.key}`],
    ["organization log, team_ids of 200 projects", teamIds(all.slice(0, 200)), `Bearer ${tenant.key}`],
    ["organization log, team_ids of 1,000 projects", teamIds(all), `Bearer ${tenant.key}`],
    ["organization log, no team_ids", orgLog, `Bearer ${tenant.key}`],
    ["SD Elements feed, a member", "/api/v2/activities/?page_size=100", `Token ${tenant.memberKey}`],
    ["SD Elements feed, the owner", "/api/v2/activities/?page_size=100", `Token ${tenant.key}`],
  ];
  const rows = [];
  for (const [label, path, authorization] of cases) {
    const server = [];
    let results = 0;
    const client = await ctx.measure(
      async () => {
        const res = await retrying(() => fetch(`${worker.url}${path}`, { headers: { authorization } }));
        const body = await res.json();
        if (res.status !== 200) throw new Error(`${label}: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
        results = body.results.length;
        server.push(serverTiming(res, "app"));
      },
      { iterations: ITERATIONS, warmup: 3 },
    );
    const stats = ctx.summarize(server);
    rows.push({
      request: label,
      rows: results,
      "server p50": ctx.fmt(stats.p50),
      "server p95": ctx.fmt(stats.p95),
      "client p95": ctx.fmt(client.p95),
    });
  }
  return rows;
}

export async function catchUpIndexes(ctx, worker, db) {
  const max = db.prepare("SELECT max(seq) AS n FROM activity_log").get().n;
  const marks = () =>
    Object.fromEntries(
      db
        .prepare(
          "SELECT key, CAST(value AS INTEGER) AS v FROM instance_settings WHERE key IN ('activity_log_facets_seq', 'activity_log_search_seq')",
        )
        .all()
        .map((r) => [r.key, r.v]),
    );
  const started = performance.now();
  let ticks = 0;
  while (true) {
    const m = marks();
    if ((m.activity_log_facets_seq ?? 0) >= max && (m.activity_log_search_seq ?? 0) >= max) break;
    await ctx.triggerScheduled(worker.url);
    if (++ticks > 200) throw new Error("indexes did not catch up");
  }
  const seconds = (performance.now() - started) / 1000;
  return { ticks, seconds, rowsPerSecond: Math.round(ROWS / seconds) };
}

/** Rows of shards whose mark is behind their last row (src/activity/chain.ts: one mark per shard). */
const unsealedShards = (db) =>
  db
    .prepare(
      `SELECT count(*) AS n FROM json_each('${JSON.stringify([..."0123456789abcdef"])}') AS s
       WHERE (SELECT max(seq) FROM activity_log WHERE substr(organization_id, -1) = s.value)
         > coalesce((SELECT CAST(value AS INTEGER) FROM instance_settings WHERE key = 'activity_chain_seq:' || s.value), 0)`,
    )
    .get().n;

/** Seconds until the sequencers have sealed every row (polled on the D1 file), after `start()`. */
export async function untilSealed(db, start) {
  const started = performance.now();
  const kicked = start();
  while (unsealedShards(db) > 0) {
    if (performance.now() - started > 900_000) throw new Error("the chain did not catch up");
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - started) / 1000;
  // A cron tick goes on after the sealing (indexing the same rows): not part of it.
  await kicked;
  return seconds;
}

/** Walks GET .../activity_log/verify/ over the whole chain of the organization, page by page. */
async function measureVerify(ctx, worker, tenant) {
  let next = `/api/organizations/${tenant.organizationId}/activity_log/verify/`;
  const server = [];
  let checked = 0;
  let verified = true;
  const started = performance.now();
  while (next) {
    const res = await retrying(() => ctx.request(worker, next.replace(/^https?:\/\/[^/]+/, ""), { key: tenant.key }));
    if (res.status !== 200) throw new Error(`verify: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    server.push(res.serverMs);
    checked += res.body.checked;
    verified &&= res.body.verified;
    next = res.body.next;
  }
  const s = ctx.summarize(server);
  return { pages: server.length, checked, verified, seconds: (performance.now() - started) / 1000, p50: s.p50, p95: s.p95 };
}

async function measureIngest(ctx, worker, tenant, { batches, concurrency }) {
  const random = rng(99);
  const bodies = Array.from({ length: batches }, () =>
    JSON.stringify({ entries: Array.from({ length: 1000 }, () => makeEntry(random, APP_SCOPES)) }),
  );
  const path = `/api/projects/${tenant.projects[1]}/activity_log/`;
  const post = async (body) => {
    const started = performance.now();
    const res = await retrying(() =>
      fetch(`${worker.url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${tenant.key}`, "content-type": "application/json", "x-posthog-client": "bench" },
        body,
      }),
    );
    const text = await res.text();
    return { status: res.status, body: text, ms: performance.now() - started, dbMs: serverTiming(res, "db") };
  };
  for (let i = 0; i < 2; i++) await post(bodies[i]);
  const latencies = [];
  const writes = [];
  const seconds = await drive(batches, concurrency, async (i) => {
    const res = await post(bodies[i]);
    if (res.status !== 201) throw new Error(`ingest: ${res.status} ${res.body.slice(0, 300)}`);
    latencies.push(res.ms);
    writes.push(res.dbMs);
  });
  const stats = ctx.summarize(latencies);
  const db = ctx.summarize(writes);
  return { rowsPerSecond: Math.round((batches * 1000) / seconds), p50: stats.p50, p95: stats.p95, dbP50: db.p50 };
}

// The SQL the API runs for a page (src/activity/activity.query.ts), rebuilt here for the raw baseline.
const COLUMNS = `c.sequence, c.hash, a.seq, a.id, a.organization_id, a.team_id, a.user_id, a.was_impersonated, a.is_system, a.client,
  a.ip_address, a.activity, a.item_id, a.scope, a.detail, a.created_at, u.uuid AS u_uuid, u.distinct_id AS u_distinct_id,
  u.first_name AS u_first_name, u.last_name AS u_last_name, u.email AS u_email, u.is_email_verified AS u_is_email_verified,
  u.hedgehog_config AS u_hedgehog_config, u.role_at_organization AS u_role_at_organization`;
const JOIN = "LEFT JOIN users AS u ON u.id = a.user_id LEFT JOIN activity_chain AS c ON c.seq = a.seq";
const MARK = "(SELECT CAST(value AS INTEGER) FROM instance_settings WHERE key = 'activity_log_search_seq')";

function pageSql({ tenant, conditions = [], order = "DESC", match = null, index = "activity_log_search", offset = null }) {
  const orderBy = `a.created_at ${order}, a.id ${order}`;
  const limit = offset === null ? "LIMIT 101" : `LIMIT 100 OFFSET ${offset}`;
  if (match) {
    const where = [
      `(a.seq IN (SELECT rowid FROM ${index} WHERE ${index} MATCH '${match}') OR a.seq > ${MARK})`,
      `((${tenant.sql}))`,
      ...conditions,
    ];
    return `SELECT ${COLUMNS} FROM activity_log AS a NOT INDEXED ${JOIN} WHERE ${where.join(" AND ")} ORDER BY ${orderBy} ${limit}`;
  }
  const where = [tenant.sql, ...conditions].join(" AND ");
  return `SELECT ${COLUMNS} FROM activity_log AS a INDEXED BY activity_log_${tenant.kind}_time ${JOIN} WHERE ${where} ORDER BY ${orderBy} ${limit}`;
}

function unionSql(teams, conditions = []) {
  const branches = teams.map(
    (t) =>
      `SELECT seq FROM (SELECT a.seq FROM activity_log AS a INDEXED BY activity_log_team_time WHERE ${[`a.team_id = ${t}`, ...conditions].join(" AND ")} ORDER BY a.created_at DESC, a.id DESC LIMIT 101)`,
  );
  return `SELECT ${COLUMNS} FROM activity_log AS a ${JOIN} WHERE a.seq IN (${branches.join(" UNION ALL ")}) ORDER BY a.created_at DESC, a.id DESC LIMIT 101`;
}

/** The probe the API runs for a search (each trigram's count, up to 2,001) and the query it then asks: the 3 rarest trigrams. */
function searchProbe(db, text) {
  const chars = [...text.toLowerCase()];
  const set = new Set();
  for (let i = 0; i + 3 <= chars.length; i++) set.add(chars.slice(i, i + 3).join(""));
  const trigrams = [...set];
  const sql = `SELECT ${trigrams
    .map(
      (t, i) =>
        `(SELECT count(*) FROM (SELECT rowid FROM activity_log_search WHERE activity_log_search MATCH '"${t}"' LIMIT 2001)) AS c${i}`,
    )
    .join(", ")}`;
  const row = db.prepare(sql).get();
  const ranked = trigrams.map((t, i) => ({ t, n: row[`c${i}`] })).sort((a, b) => a.n - b.n);
  return {
    sql,
    match: ranked
      .slice(0, 3)
      .map((r) => `"${r.t}"`)
      .join(" AND "),
  };
}

const q = (s) => `'${s.replaceAll("'", "''")}'`;

export function scenarios(tenant, endMs, db) {
  const team = tenant.projects[3];
  const project = { kind: "team", sql: `a.team_id = ${team}` };
  const org = { kind: "org", sql: `a.organization_id = ${q(tenant.organizationId)}` };
  const from = endMs - 120 * 86_400_000;
  const to = from + 30 * 86_400_000;
  const user = tenant.users[7];
  const userUuid = tenant.uuids[6];
  const rare = "pricing-featureflag-1234";
  const probe = searchProbe(db, rare);
  const commonProbe = searchProbe(db, "checkout");
  const advanced = (query) => `/api/projects/${team}/advanced_activity_logs/?${query}`;
  const detailFilters = (f) => `detail_filters=${encodeURIComponent(JSON.stringify(f))}`;
  const ipCandidates = `SELECT seq FROM activity_log INDEXED BY activity_log_org_ip WHERE organization_id = (SELECT organization_id FROM projects WHERE id = ${team}) AND ip_address >= '10.3.7.' AND ip_address < '10.3.7.\u{10FFFF}'`;
  const arrayExact = (value) =>
    `EXISTS (SELECT 1 FROM json_each(a.detail, '$."changes"') AS e0 WHERE e0.key < 5 AND (CASE json_type(a.detail, '$."changes"' || '[' || e0.key || ']' || '."field"') WHEN 'text' THEN json_extract(a.detail, '$."changes"' || '[' || e0.key || ']' || '."field"') IN (${q(value)}) ELSE 0 END))`;
  return [
    { label: "no filter", path: advanced(""), sql: pageSql({ tenant: project }) },
    {
      label: "start_date + end_date (30 days)",
      path: advanced(`start_date=${new Date(from).toISOString()}&end_date=${new Date(to).toISOString()}`),
      sql: pageSql({ tenant: project, conditions: [`a.created_at >= ${from}`, `a.created_at <= ${to}`] }),
    },
    {
      label: "users (1 of 50)",
      path: advanced(`users=${userUuid}`),
      sql: pageSql({ tenant: project, conditions: [`a.user_id IN (SELECT id FROM users WHERE uuid = ${q(userUuid)})`] }),
    },
    {
      label: "scopes=FeatureFlag (25%)",
      path: advanced("scopes=FeatureFlag"),
      sql: pageSql({ tenant: project, conditions: ["a.scope = 'FeatureFlag'"] }),
    },
    {
      label: "scopes=Integration (0.4%)",
      path: advanced("scopes=Integration"),
      sql: pageSql({ tenant: project, conditions: ["a.scope = 'Integration'"] }),
    },
    {
      label: "scopes=Insight,Notebook",
      path: advanced("scopes=Insight,Notebook"),
      sql: pageSql({ tenant: project, conditions: [`a.scope IN (SELECT value FROM json_each('["Insight","Notebook"]'))`] }),
    },
    {
      label: "activities=deleted (10%)",
      path: advanced("activities=deleted"),
      sql: pageSql({ tenant: project, conditions: ["a.activity = 'deleted'"] }),
    },
    { label: "clients=mcp (10%)", path: advanced("clients=mcp"), sql: pageSql({ tenant: project, conditions: ["a.client = 'mcp'"] }) },
    {
      label: "item_ids (one item)",
      path: advanced("item_ids=fea-1234"),
      sql: pageSql({ tenant: project, index: "activity_log_items", match: '("fea-1234")', conditions: ["a.item_id = 'fea-1234'"] }),
    },
    {
      label: "ip_addresses (wildcard)",
      path: advanced("ip_addresses=10.3.7.*"),
      sql: `SELECT ${COLUMNS} FROM activity_log AS a NOT INDEXED ${JOIN} WHERE a.seq IN (${ipCandidates}) AND ((a.team_id = ${team})) AND (a.ip_address LIKE '10.3.7.%' ESCAPE '\\') ORDER BY a.created_at DESC, a.id DESC LIMIT 101`,
      also: [`SELECT count(*) AS n FROM (SELECT seq FROM (${ipCandidates}) LIMIT 2001)`],
    },
    {
      label: `search_text rare ("${rare}")`,
      path: advanced(`search_text=${rare}`),
      sql: pageSql({ tenant: project, match: probe.match, conditions: [`instr(lower(a.detail), '${rare}') > 0`] }),
      also: [probe.sql],
    },
    {
      label: 'search_text common ("checkout", 8%)',
      path: advanced("search_text=checkout"),
      sql: pageSql({ tenant: project, conditions: ["instr(lower(a.detail), 'checkout') > 0"] }),
      also: [commonProbe.sql],
    },
    {
      label: "was_impersonated=true (0.5%)",
      path: advanced("was_impersonated=true"),
      sql: pageSql({ tenant: project, conditions: ["a.was_impersonated = 1"] }),
    },
    { label: "is_system=true (5%)", path: advanced("is_system=true"), sql: pageSql({ tenant: project, conditions: ["a.is_system = 1"] }) },
    {
      label: "detail_filters changes[].field exact",
      path: advanced(detailFilters({ "changes[].field": { operation: "exact", value: "rollout_percentage" } })),
      sql: pageSql({ tenant: project, conditions: [`((${arrayExact("rollout_percentage")}))`] }),
    },
    {
      label: "detail_filters name contains",
      path: advanced(detailFilters({ name: { operation: "contains", value: "billing" } })),
      sql: pageSql({
        tenant: project,
        conditions: [
          `(instr(lower(CASE json_type(a.detail, '$."name"') WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(json_extract(a.detail, '$."name"') AS TEXT) END), 'billing') > 0)`,
        ],
      }),
    },
    {
      label: "scopes + activities + users",
      path: advanced(`scopes=FeatureFlag&activities=updated&users=${userUuid}`),
      sql: pageSql({
        tenant: project,
        conditions: [
          `a.user_id IN (SELECT id FROM users WHERE uuid = ${q(userUuid)})`,
          "a.scope = 'FeatureFlag'",
          "a.activity = 'updated'",
        ],
      }),
    },
    { label: "ordering=created_at", path: advanced("ordering=created_at"), sql: pageSql({ tenant: project, order: "ASC" }) },
    {
      label: "page=5 (page numbers + count)",
      path: advanced("page=5&page_size=100"),
      sql: pageSql({ tenant: project, offset: 400 }),
      also: [`SELECT count(*) AS n FROM activity_log AS a INDEXED BY activity_log_team_time WHERE a.team_id = ${team}`],
    },
    {
      label: "organization: no filter",
      path: `/api/organizations/${tenant.organizationId}/advanced_activity_logs/`,
      sql: pageSql({ tenant: org }),
    },
    {
      label: "organization: team_ids (2 projects)",
      path: `/api/organizations/${tenant.organizationId}/advanced_activity_logs/?team_ids=${tenant.projects[2]},${tenant.projects[5]}`,
      sql: unionSql([tenant.projects[2], tenant.projects[5]]),
    },
    {
      label: "organization: users (1 of 50)",
      path: `/api/organizations/${tenant.organizationId}/advanced_activity_logs/?users=${userUuid}`,
      sql: pageSql({ tenant: org, conditions: [`a.user_id IN (SELECT id FROM users WHERE uuid = ${q(userUuid)})`] }),
    },
    {
      label: "basic list: user",
      path: `/api/projects/${team}/activity_log/?user=${user}`,
      sql: pageSql({ tenant: project, conditions: [`a.user_id = ${user}`] }),
    },
  ];
}

async function measureExport(ctx, worker, tenant, label, filters, format) {
  const pids = workerdPids(worker.child.pid);
  const before = rssMb(pids);
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb(pids));
  }, 25);
  const started = performance.now();
  const res = await retrying(() =>
    ctx.request(worker, `/api/projects/${tenant.projects[4]}/advanced_activity_logs/export/`, {
      key: tenant.key,
      body: { format, filters },
    }),
  );
  if (res.status !== 202) throw new Error(`export: ${res.status} ${JSON.stringify(res.body)}`);
  let status;
  while (true) {
    status = (await retrying(() => ctx.request(worker, `/api/projects/${tenant.projects[4]}/exports/${res.body.id}/`, { key: tenant.key })))
      .body;
    if (status.status === "complete" || status.status === "failed") break;
    await new Promise((r) => setTimeout(r, 100));
  }
  clearInterval(sampler);
  if (status.status !== "complete") throw new Error(`export failed: ${status.exception}`);
  return {
    export: `${label} (${format})`,
    rows: status.progress.rows_written,
    "size MB": (status.size_bytes / 1024 / 1024).toFixed(1),
    "job time": ctx.fmt(Date.parse(status.completed_at) - Date.parse(status.started_at)),
    "request to done": ctx.fmt(performance.now() - started),
    "workerd RSS before MB": before.toFixed(0),
    "peak MB": peak.toFixed(0),
    "growth MB": (peak - before).toFixed(0),
  };
}

export async function run(ctx) {
  const state = ctx.freshState("activity");
  let worker = await startWorker(state);
  const tenant = await setupTenant(ctx, worker);
  await worker.stop();

  const endMs = Date.now() - 60_000;
  const db = ctx.openD1(state);
  const started = performance.now();
  seed(db, tenant, endMs);
  tenant.emptyProjects = addEmptyProjects(db, tenant);
  console.log(
    `seeded ${db.prepare("SELECT count(*) AS n FROM activity_log").get().n} rows in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );

  worker = await startWorker(state);
  try {
    // The cron's catch-up call starts the sequencer; its alarm goes on with the backlog.
    const sealSeconds = await untilSealed(db, () => ctx.triggerScheduled(worker.url));
    if (PARTS.has("seal")) {
      ctx.table("Hash chain: the sequencer sealing the seeded rows (while the same cron tick indexes)", [
        { rows: ROWS, seconds: sealSeconds.toFixed(1), "rows/s": Math.round(ROWS / sealSeconds) },
      ]);
    }
    if (PARTS.has("verify")) await verifyPart(ctx, worker, tenant);
    if (PARTS.has("indexes") || PARTS.has("filters")) await indexesPart(ctx, worker, db);
    if (PARTS.has("filters")) await filtersPart(ctx, worker, tenant, endMs, db);
    if (PARTS.has("ingest")) await ingestPart(ctx, worker, tenant, db);
    if (PARTS.has("exports")) await exportsPart(ctx, worker, tenant, endMs);
    // Bytes per row on disk: the row, its indexes, the search indexes, facets and chain (docs/scaling.md).
    const stored = db.prepare("SELECT count(*) AS n FROM activity_log").get().n;
    ctx.storageTable(db, `Storage: activity tables at ${stored} rows (dbstat)`, ["activity_"], stored);
  } finally {
    db.close();
    await worker.stop();
  }
}

async function verifyPart(ctx, worker, tenant) {
  const verify = await measureVerify(ctx, worker, tenant);
  ctx.table(`Verify: GET /api/organizations/:id/activity_log/verify/ over the organization's ${ROWS} rows, following next`, [
    {
      pages: verify.pages,
      "rows checked": verify.checked,
      verified: verify.verified,
      "total s": verify.seconds.toFixed(1),
      "page server p50": ctx.fmt(verify.p50),
      "page server p95": ctx.fmt(verify.p95),
    },
  ]);
}

async function indexesPart(ctx, worker, db) {
  const indexes = await catchUpIndexes(ctx, worker, db);
  ctx.table("Background indexes (facets + search) catching up on the seeded rows through the cron", [
    { ticks: indexes.ticks, seconds: indexes.seconds.toFixed(1), "rows/s": indexes.rowsPerSecond },
  ]);
}

async function filtersPart(ctx, worker, tenant, endMs, db) {
  const list = scenarios(tenant, endMs, db);
  ctx.table(
    "Query plans (EXPLAIN QUERY PLAN of the SQL the API runs)",
    list.map((s) => ({
      filter: s.label,
      plan: db
        .prepare(`EXPLAIN QUERY PLAN ${s.sql}`)
        .all()
        .map((r) => r.detail)
        .join(" | ")
        .slice(0, 160),
    })),
  );

  // The fixed cost of every request: key lookup and project membership.
  const overhead = await ctx.measure(
    async () => (await retrying(() => ctx.request(worker, `/api/projects/${tenant.projects[3]}/`, { key: tenant.key }))).serverMs,
    {
      iterations: ITERATIONS,
    },
  );
  const rows = [];
  for (const s of list) {
    const server = [];
    const dbTimes = [];
    let results = 0;
    const client = await ctx.measure(
      async () => {
        const res = await timedGet(worker, s.path, tenant.key).catch((error) => {
          throw new Error(`${s.label}: ${error.message}`, { cause: error });
        });
        if (res.status !== 200) throw new Error(`${s.label}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
        results = res.body.results.length;
        server.push(res.serverMs);
        dbTimes.push(res.dbMs);
      },
      { iterations: ITERATIONS, warmup: 3 },
    );
    const raw = ctx.measureSql(db, s.sql, [], { iterations: ITERATIONS, warmup: 3 });
    // The other statements of the request (a search's probe, a page's count) add to the raw time.
    const also = (s.also ?? []).map((sql) => ctx.measureSql(db, sql, [], { iterations: ITERATIONS, warmup: 3 }));
    const rawP50 = raw.p50 + also.reduce((sum, x) => sum + x.p50, 0);
    const rawP95 = raw.p95 + also.reduce((sum, x) => sum + x.p95, 0);
    const serverStats = ctx.summarize(server);
    const dbStats = ctx.summarize(dbTimes);
    rows.push({
      filter: s.label,
      rows: results,
      "server p50": ctx.fmt(serverStats.p50),
      "server p95": ctx.fmt(serverStats.p95),
      "queries p95": ctx.fmt(dbStats.p95),
      "raw SQL p50": ctx.fmt(rawP50),
      "raw SQL p95": ctx.fmt(rawP95),
      "server/raw p95": (serverStats.p95 / Math.max(rawP95, 0.001)).toFixed(1),
      "(server - fixed)/raw p95": (Math.max(serverStats.p95 - overhead.p50, 0) / Math.max(rawP95, 0.001)).toFixed(1),
      "client p50": ctx.fmt(client.p50),
      "client p95": ctx.fmt(client.p95),
    });
  }
  ctx.table(`Filters: 100-row pages at ${ROWS} rows (server = Server-Timing app;dur, ${ITERATIONS} runs each)`, rows);
  ctx.table("Fixed per-request cost (GET /api/projects/:id/: key lookup + membership)", [
    { "server p50": ctx.fmt(overhead.p50), "server p95": ctx.fmt(overhead.p95) },
  ]);

  const available = [];
  for (const [label, path] of [
    ["project", `/api/projects/${tenant.projects[3]}/advanced_activity_logs/available_filters/`],
    ["organization", `/api/organizations/${tenant.organizationId}/advanced_activity_logs/available_filters/`],
  ]) {
    const server = [];
    const client = await ctx.measure(
      async () => {
        const res = await retrying(() => ctx.request(worker, path, { key: tenant.key }));
        if (res.status !== 200) throw new Error(`${label}: ${res.status}`);
        server.push(res.serverMs);
      },
      { iterations: ITERATIONS, warmup: 3 },
    );
    const s = ctx.summarize(server);
    available.push({
      available_filters: label,
      "server p50": ctx.fmt(s.p50),
      "server p95": ctx.fmt(s.p95),
      "client p95": ctx.fmt(client.p95),
    });
  }
  ctx.table("available_filters (from the facets)", available);

  ctx.table(
    `An organization with ${MANY_PROJECTS} projects over the ${ROWS} rows (100-row pages, ${ITERATIONS} runs each)`,
    await measureManyProjects(ctx, worker, tenant, tenant.emptyProjects),
  );
}

async function ingestPart(ctx, worker, tenant, db) {
  const sequential = await measureIngest(ctx, worker, tenant, { batches: 40, concurrency: 1 });
  const concurrent = await measureIngest(ctx, worker, tenant, { batches: 60, concurrency: 4 });
  // Ingest kicks the sequencer after each write; how far it is behind when the writes stop.
  const lag = await untilSealed(db, async () => {});
  ctx.table(`Ingest: POST /api/projects/:id/activity_log/, 1000-entry batches, on ${ROWS} rows`, [
    {
      clients: 1,
      batches: 40,
      "rows/s": sequential.rowsPerSecond,
      "request p50": ctx.fmt(sequential.p50),
      "request p95": ctx.fmt(sequential.p95),
      "D1 batch p50": ctx.fmt(sequential.dbP50),
    },
    {
      clients: 4,
      batches: 60,
      "rows/s": concurrent.rowsPerSecond,
      "request p50": ctx.fmt(concurrent.p50),
      "request p95": ctx.fmt(concurrent.p95),
      "D1 batch p50": ctx.fmt(concurrent.dbP50),
    },
  ]);
  ctx.table("Hash chain after the ingest runs", [{ "seconds until every ingested row is sealed": lag.toFixed(2) }]);
}

async function exportsPart(ctx, worker, tenant, endMs) {
  // Exports of one project (100k rows): a month, five months, everything; memory must not follow the row count.
  const day = 86_400_000;
  const exports = [];
  for (const [label, filters] of [
    ["35 days", { start_date: new Date(endMs - 35 * day).toISOString() }],
    ["175 days", { start_date: new Date(endMs - 175 * day).toISOString() }],
    ["everything", {}],
  ]) {
    exports.push(await measureExport(ctx, worker, tenant, label, filters, "csv"));
  }
  exports.push(await measureExport(ctx, worker, tenant, "35 days", { start_date: new Date(endMs - 35 * day).toISOString() }, "xlsx"));
  exports.push(await measureExport(ctx, worker, tenant, "175 days", { start_date: new Date(endMs - 175 * day).toISOString() }, "xlsx"));
  exports.push(await measureExport(ctx, worker, tenant, "everything", {}, "xlsx"));
  ctx.table("Exports of one project through the queue to R2", exports);
}
