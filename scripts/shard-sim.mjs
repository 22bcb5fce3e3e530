// Past one database (docs/scaling.md): runs the planned routing over a synthetic tenant
// distribution, month by month, and prints shard fill and hot spots. Deterministic: the same
// seed and options print the same report.
//   npm run shard-sim
//   npm run shard-sim -- --seed 7 --orgs 20000 --months 36 --activity-bytes 1010 --log-bytes 610
//
// Activity: one D1 database per shard (10 GB, one writer), organizations placed by a routing table
// in the control database. An organization's rows go to its current segment; when a shard passes
// the roll-over fill, its fastest-growing organizations start a new segment on the emptiest shard
// (the chain goes on across segments, as it does across a retention cut). Compared with plain
// hash routing (hash(organization) mod shards) over the same number of shards.
// Logs: one SQLite-backed Durable Object per (project, segment): a segment is a day of the
// project's records, split further when a day passes the segment cap; retention drops whole segments.
import { parseArgs } from "node:util";

const { values: opts } = parseArgs({
  options: {
    seed: { type: "string", default: "17" },
    orgs: { type: "string", default: "10000" },
    months: { type: "string", default: "24" },
    // Measured bytes on disk per activity row / log record, indexes included (docs/scaling.md).
    "activity-bytes": { type: "string", default: "1010" },
    "log-bytes": { type: "string", default: "610" },
    "db-gb": { type: "string", default: "10" },
    // New organizations go only to shards below this fill; past roll-over, segments move on.
    "open-fill": { type: "string", default: "0.7" },
    "rollover-fill": { type: "string", default: "0.85" },
    // Writes a single D1 writer / Durable Object is planned to take (rows or records per second).
    "writer-capacity": { type: "string", default: "20000" },
    "segment-gb": { type: "string", default: "2" },
    // Busy-hour rate over the day's average.
    "peak-factor": { type: "string", default: "4" },
    top: { type: "string", default: "10" },
  },
});
const SEED = Number(opts.seed);
const ORGS = Number(opts.orgs);
const MONTHS = Number(opts.months);
const ACTIVITY_BYTES = Number(opts["activity-bytes"]);
const LOG_BYTES = Number(opts["log-bytes"]);
const DB_BYTES = Number(opts["db-gb"]) * 1e9;
const OPEN_FILL = Number(opts["open-fill"]);
const ROLLOVER_FILL = Number(opts["rollover-fill"]);
const WRITER_CAPACITY = Number(opts["writer-capacity"]);
const SEGMENT_BYTES = Number(opts["segment-gb"]) * 1e9;
const PEAK = Number(opts["peak-factor"]);
const TOP = Number(opts.top);
const DAYS_PER_MONTH = 30.4;
const SECONDS_PER_DAY = 86_400;

/** mulberry32: small, fast, deterministic. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
const random = rng(SEED);
/** Pareto draw: most values near `min`, a long tail up to `max`. */
const pareto = (min, alpha, max) => Math.min(max, min / (1 - random()) ** (1 / alpha));
const pick = (weighted) => {
  let x = random() * weighted.reduce((s, [, w]) => s + w, 0);
  for (const [value, w] of weighted) {
    x -= w;
    if (x <= 0) return value;
  }
  return weighted[0][0];
};
/** FNV-1a of a string: the hash routing baseline. */
function fnv(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

// --- Tenants: a few large ones, a long tail ---------------------------------------------------
// Activity rows per day: the tail from a Pareto draw, plus named whales (an app recording every
// change of a busy product through ingest). Log records per day per project likewise.
const WHALES = [
  { activity: 2_000_000, projects: [800_000_000, 150_000_000, 20_000_000] },
  { activity: 600_000, projects: [120_000_000, 5_000_000] },
  { activity: 250_000, projects: [60_000_000] },
];
const orgs = [];
for (let i = 0; i < ORGS; i++) {
  const whale = WHALES[i];
  const projectCount = whale ? whale.projects.length : 1 + Math.floor(pareto(1, 1.6, 12)) - 1;
  orgs.push({
    id: `org-${String(i).padStart(6, "0")}`,
    // 40% exist at month 0; the rest arrive over the horizon.
    createdMonth: whale || random() < 0.4 ? 0 : Math.floor(random() * MONTHS),
    activityPerDay: whale ? whale.activity : pareto(20, 1.3, 150_000),
    // Grows (or not) month over month.
    growth: whale
      ? 1.03
      : pick([
          [1.0, 50],
          [1.02, 35],
          [1.08, 15],
        ]),
    retentionDays: pick([
      [365, 80],
      [90, 10],
      [730, 10],
    ]),
    projects: (whale ? whale.projects : Array.from({ length: projectCount }, () => pareto(5_000, 1.05, 40_000_000))).map((perDay, p) => ({
      id: `${i}.${p}`,
      logsPerDay: perDay,
      retentionDays: pick([
        [30, 85],
        [7, 10],
        [90, 5],
      ]),
    })),
  });
}

// --- Activity: routing table + segments, day by day ---------------------------------------------
// A shard's `bytes`: the rows of every segment on it still inside their organization's retention;
// `intake`: what the organizations writing to it add per day. Placement looks `LOOKAHEAD` days ahead.
const LOOKAHEAD = 30;
const shards = [];
function newShard(day) {
  const shard = {
    name: `shard-${String(shards.length).padStart(3, "0")}`,
    index: shards.length,
    bytes: 0,
    intake: 0,
    since: day,
    writers: new Set(),
    /** The large organization this shard is given to, if any. */
    dedicatedTo: null,
  };
  shards.push(shard);
  return shard;
}
newShard(0);
const projected = (shard) => shard.bytes + LOOKAHEAD * shard.intake;
/**
 * Where `org`'s new segment goes. A large organization gets a shard of its own (an empty one, else
 * a new one). Any other goes to the shared open shard with the most room ahead that does not hold a
 * segment's worth of it already, else a new shard.
 */
function emptiest(day, org, dailyBytes) {
  let best = null;
  for (const shard of shards) {
    // A dedicated shard whose rows have all expired is free again.
    if (shard.dedicatedTo && shard.bytes < 1 && !shard.writers.size) shard.dedicatedTo = null;
    if (shard === org.current?.shard || shard.dedicatedTo) continue;
    if (org.dedicated) {
      if (shard.bytes < 1 && !shard.writers.size) return Object.assign(shard, { dedicatedTo: org });
      continue;
    }
    if ((org.onShard.get(shard.index) ?? 0) >= SEGMENT_CAP) continue;
    if (projected(shard) + LOOKAHEAD * dailyBytes > OPEN_FILL * DB_BYTES) continue;
    if (!best || projected(shard) < projected(best)) best = shard;
  }
  return best ?? Object.assign(newShard(day), { dedicatedTo: org.dedicated ? org : null });
}

const DAYS = Math.round(MONTHS * DAYS_PER_MONTH);
// Bytes one segment of an organization may hold before its next rows start a new segment
// elsewhere: no shared shard depends on one organization for more than this.
const SEGMENT_CAP = (ROLLOVER_FILL - OPEN_FILL) * DB_BYTES;
// An organization whose retained rows would pass this gets shards of its own, filled to the roll-over fill.
const DEDICATED_BYTES = 2 * DB_BYTES;
const capOf = (org) => (org.dedicated ? ROLLOVER_FILL * DB_BYTES : SEGMENT_CAP);
let rollovers = 0;
/** Starts a new segment of `org` on the shard with the most room. */
function moveOn(org, day) {
  const from = org.current?.shard;
  if (from) {
    from.writers.delete(org);
    from.intake -= org.dailyBytes;
    rollovers++;
  }
  org.dedicated = org.dailyBytes * org.retentionDays > DEDICATED_BYTES;
  const shard = emptiest(day, org, Math.min(org.dailyBytes, SEGMENT_CAP / LOOKAHEAD));
  org.current = { shard, bytes: 0 };
  shard.writers.add(org);
  shard.intake += org.dailyBytes;
  org.segments = (org.segments ?? 0) + 1;
}
/** Records `bytes` of `org`'s rows of `day` on its current segment's shard. */
function write(org, day, bytes) {
  const shard = org.current.shard;
  // Most days are one part on one shard (typed arrays); a large tenant's other parts go to `extra`.
  if (org.bytesOfDay[day] === 0) {
    org.bytesOfDay[day] = bytes;
    org.shardOfDay[day] = shard.index;
  } else {
    org.extra.set(day, [...(org.extra.get(day) ?? []), [shard.index, bytes]]);
  }
  org.current.bytes += bytes;
  org.onShard.set(shard.index, (org.onShard.get(shard.index) ?? 0) + bytes);
  shard.bytes += bytes;
}
/** The `[shard index, bytes]` parts of an organization's day. */
const partsOf = (org, day) => [[org.shardOfDay[day], org.bytesOfDay[day]], ...(org.extra.get(day) ?? [])];
for (let day = 0; day < DAYS; day++) {
  const month = Math.floor(day / DAYS_PER_MONTH);
  for (const org of orgs) {
    if (org.createdMonth > month) continue;
    const rate = org.activityPerDay * org.growth ** (month - org.createdMonth);
    const dailyBytes = rate * ACTIVITY_BYTES;
    if (!org.bytesOfDay) {
      org.bytesOfDay = new Float64Array(DAYS);
      org.shardOfDay = new Int32Array(DAYS);
      org.extra = new Map();
      // Live bytes of the organization per shard index.
      org.onShard = new Map();
      org.dailyBytes = dailyBytes;
      moveOn(org, day);
    }
    if (org.current) org.current.shard.intake += dailyBytes - org.dailyBytes;
    org.rate = rate;
    org.dailyBytes = dailyBytes;
    // A full segment sends the organization's next rows elsewhere: a large tenant's day may span segments.
    let left = dailyBytes;
    while (left > 0) {
      if (org.current.bytes >= capOf(org)) moveOn(org, day);
      const part = Math.min(left, capOf(org) - org.current.bytes);
      write(org, day, part);
      left -= part;
    }
    // Retention: the day that leaves the window leaves the shards its rows were written to.
    const expired = day - org.retentionDays;
    if (expired >= 0 && org.bytesOfDay[expired]) {
      for (const [index, bytes] of partsOf(org, expired)) {
        shards[index].bytes -= bytes;
        org.onShard.set(index, org.onShard.get(index) - bytes);
        if (shards[index] === org.current.shard) org.current.bytes = Math.max(0, org.current.bytes - bytes);
      }
      org.bytesOfDay[expired] = 0;
      org.extra.delete(expired);
    }
  }
  // A shard heading past roll-over sends its fastest writers on until its projection fits again.
  for (const shard of [...shards]) {
    // (A dedicated shard is left to its organization's segment cap.)
    if (shard.dedicatedTo || projected(shard) <= ROLLOVER_FILL * DB_BYTES || !shard.writers.size) continue;
    for (const org of [...shard.writers].sort((a, b) => b.rate - a.rate)) {
      if (projected(shard) <= OPEN_FILL * DB_BYTES) break;
      moveOn(org, day);
    }
  }
}
const live = orgs.filter((o) => o.bytesOfDay);
for (const org of live) {
  // The shards its retained rows are on, and how many bytes on each.
  org.placement = new Map();
  for (let day = 0; day < DAYS; day++) {
    if (!org.bytesOfDay[day]) continue;
    for (const [index, bytes] of partsOf(org, day)) org.placement.set(index, (org.placement.get(index) ?? 0) + bytes);
  }
}
for (const shard of shards) shard.writes = [...shard.writers].reduce((sum, o) => sum + o.rate / SECONDS_PER_DAY, 0);

// Hash routing over as many shards: no segments, an organization's whole retained history on one.
const hashed = Array.from({ length: shards.length }, (_, i) => ({
  name: `hash-${String(i).padStart(3, "0")}`,
  bytes: 0,
  writes: 0,
  orgs: 0,
}));
for (const org of live) {
  const shard = hashed[fnv(org.id) % hashed.length];
  shard.bytes += [...org.placement.values()].reduce((sum, b) => sum + b, 0);
  shard.writes += org.rate / SECONDS_PER_DAY;
  shard.orgs++;
}

// --- Logs: per-project Durable Object segments -------------------------------------------------
const projects = orgs.filter((o) => o.createdMonth < MONTHS).flatMap((o) => o.projects.map((p) => ({ ...p, org: o.id })));
let liveSegments = 0;
const logRows = projects.map((p) => {
  const dayBytes = p.logsPerDay * LOG_BYTES;
  const segmentsPerDay = Math.max(1, Math.ceil(dayBytes / SEGMENT_BYTES));
  liveSegments += segmentsPerDay * p.retentionDays;
  const peakPerSecond = (p.logsPerDay / SECONDS_PER_DAY) * PEAK;
  return {
    project: p.id,
    org: p.org,
    "records/day": Math.round(p.logsPerDay),
    "GB retained": ((dayBytes * p.retentionDays) / 1e9).toFixed(1),
    "one D1 full in (days)": dayBytes ? Math.min(9999, DB_BYTES / dayBytes).toFixed(1) : "never",
    "segments/day": segmentsPerDay,
    "segment GB": (dayBytes / segmentsPerDay / 1e9).toFixed(2),
    "peak records/s": Math.round(peakPerSecond),
    "writers needed": Math.max(1, Math.ceil(peakPerSecond / WRITER_CAPACITY)),
  };
});

// --- Report --------------------------------------------------------------------------------------
function table(title, rows) {
  console.log(`\n## ${title}`);
  if (!rows.length) return console.log("(none)");
  const columns = Object.keys(rows[0]);
  const width = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells) =>
    cells
      .map((v, i) => String(v).padEnd(width[i]))
      .join("  ")
      .trimEnd();
  console.log(line(columns));
  console.log(line(width.map((w) => "-".repeat(w))));
  for (const row of rows) console.log(line(columns.map((c) => row[c])));
}
const gb = (bytes) => (bytes / 1e9).toFixed(2);
const pct = (bytes) => `${((bytes / DB_BYTES) * 100).toFixed(0)}%`;
const bar = (bytes) => "#".repeat(Math.max(0, Math.min(40, Math.round((bytes / DB_BYTES) * 20))));
const totalBytes = shards.reduce((s, x) => s + x.bytes, 0);

console.log(`# Shard simulation (seed ${SEED}): ${live.length} organizations, ${projects.length} projects, ${MONTHS} months`);
console.log(
  `activity ${ACTIVITY_BYTES} B/row, logs ${LOG_BYTES} B/record, D1 ${gb(DB_BYTES)} GB, open below ${OPEN_FILL * 100}%, roll over at ${ROLLOVER_FILL * 100}%, writer ${WRITER_CAPACITY}/s, peak x${PEAK}`,
);
const rowsPerDb = DB_BYTES / ACTIVITY_BYTES;
console.log(
  `one D1 holds ${(rowsPerDb / 1e6).toFixed(1)}M activity rows: full in a year at ${Math.round(rowsPerDb / 365)} rows/day (${(rowsPerDb / 365 / SECONDS_PER_DAY).toFixed(2)}/s) with 365-day retention; ` +
    `${(DB_BYTES / LOG_BYTES / 1e6).toFixed(1)}M log records: full in 30 days at ${Math.round(DB_BYTES / LOG_BYTES / 30)} records/day (${(DB_BYTES / LOG_BYTES / 30 / SECONDS_PER_DAY).toFixed(1)}/s)`,
);
console.log(
  `today everything shares one D1: this population retains ${gb(totalBytes)} GB of activity (${(totalBytes / DB_BYTES).toFixed(1)} databases' worth)`,
);

const shardRows = shards.map((s, i) => ({
  shard: s.name,
  GB: gb(s.bytes),
  fill: pct(s.bytes),
  "": bar(s.bytes),
  organizations: live.filter((o) => o.placement.has(i)).length,
  "writing now": s.writers.size,
  "writes/s (avg)": s.writes.toFixed(1),
  "writes/s (peak)": (s.writes * PEAK).toFixed(0),
  "given to": s.dedicatedTo?.id ?? "",
  bytes: s.bytes,
  peak: s.writes * PEAK,
}));
const percentiles = (list) => {
  const fills = list.map((s) => s.bytes).sort((a, b) => a - b);
  const at = (q) => pct(fills[Math.min(fills.length - 1, Math.floor(q * fills.length))] ?? 0);
  return `min ${at(0)}, p50 ${at(0.5)}, p90 ${at(0.9)}, max ${at(1)}`;
};
const shared = shards.filter((s) => !s.dedicatedTo);
const dedicated = shards.filter((s) => s.dedicatedTo);
console.log(`\n## Activity: routing table + segments: ${shards.length} shards after ${MONTHS} months, ${rollovers} segment roll-overs`);
console.log(
  `${shared.length} shared shards (segments of at most ${gb(SEGMENT_CAP)} GB): fill ${percentiles(shared)}; ` +
    `${dedicated.length} shards given to ${new Set(dedicated.map((s) => s.dedicatedTo.id)).size} large organizations (over ${gb(DEDICATED_BYTES)} GB retained, filled to ${ROLLOVER_FILL * 100}%): fill ${percentiles(dedicated)}`,
);
const strip = ({ bytes: _b, peak: _p, ...row }) => row;
table(
  `Fullest ${TOP} shards`,
  [...shardRows]
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, TOP)
    .map(strip),
);
table(
  `Busiest ${TOP} shards by peak writes`,
  [...shardRows]
    .sort((a, b) => b.peak - a.peak)
    .slice(0, TOP)
    .map(strip),
);
// A hot spot: fuller than the policy allows (past roll-over by more than 5 points) or, in its busy
// hour, writing more than half what one writer takes.
const HOT_FILL = (ROLLOVER_FILL + 0.05) * DB_BYTES;
const hot = (s) => s.bytes > HOT_FILL || s.writes * PEAK > WRITER_CAPACITY / 2;
const hotRouted = shards.filter(hot);
const hotHashed = hashed.filter(hot);
console.log(
  `\nhot spots (fill over ${Math.round((ROLLOVER_FILL + 0.05) * 100)}% or busy-hour writes over half a writer, ${WRITER_CAPACITY / 2}/s): routing table ${hotRouted.length} of ${shards.length}` +
    (hotRouted.length ? `: ${hotRouted.map((s) => s.name).join(", ")}` : ""),
);
table(
  `Same population, hash(organization) mod ${hashed.length} (no segments): fullest shards`,
  [...hashed]
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, TOP)
    .map((s) => ({
      shard: s.name,
      GB: gb(s.bytes),
      fill: pct(s.bytes),
      "": bar(s.bytes),
      organizations: s.orgs,
      "peak writes/s": (s.writes * PEAK).toFixed(0),
    })),
);
console.log(
  `hash routing: ${hotHashed.length} hot shards, ${hashed.filter((s) => s.bytes > DB_BYTES).length} over 100% (an organization's history cannot move off its hash); ` +
    `fill spread ${pct(Math.min(...hashed.map((s) => s.bytes)))}..${pct(Math.max(...hashed.map((s) => s.bytes)))}`,
);

table(
  `Largest organizations (activity)`,
  [...live]
    .sort((a, b) => b.rate - a.rate)
    .slice(0, TOP)
    .map((o) => {
      const on = o.placement;
      const retained = [...on.values()].reduce((sum, b) => sum + b, 0);
      return {
        organization: o.id,
        "rows/day": Math.round(o.rate),
        "retention days": o.retentionDays,
        "GB retained": gb(retained),
        "segments so far": o.segments,
        "shards holding it": on.size,
        "largest share of one shard": pct(Math.max(...on.values())),
      };
    }),
);

const sortedLogs = [...logRows].sort((a, b) => b["records/day"] - a["records/day"]);
const over = sortedLogs.filter((r) => Number(r["one D1 full in (days)"]) < 30);
table(`Largest projects (logs, one Durable Object per project per day, split past ${opts["segment-gb"]} GB)`, sortedLogs.slice(0, TOP));
console.log(
  `logs: ${projects.length} projects, ${liveSegments} live segment objects; ${over.length} projects would fill a whole D1 within 30 days; ` +
    `${logRows.filter((r) => r["writers needed"] > 1).length} need more than one writer at peak (hot spots); ` +
    `largest segment ${Math.max(...logRows.map((r) => Number(r["segment GB"]))).toFixed(2)} GB of the object's 10 GB`,
);
