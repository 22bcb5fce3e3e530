// The activity hash chain's arithmetic, shared by the Worker and scripts/verify-export.mjs (which
// loads this file with Node's type stripping: hence no relative imports and only erasable syntax).
import { createHash } from "node:crypto";
import canonicalize from "canonicalize";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json | undefined };

const jsonPrimitive = (value: unknown): string =>
  typeof value === "number" && !Number.isFinite(value) ? "null" : value === undefined ? "null" : JSON.stringify(value);

/**
 * RFC 8785 canonical JSON of JSON data (what `JSON.parse` returns, and a row's record), written the
 * way the `canonicalize` package writes it (test/activity/chain-hash.test.ts compares the two over
 * generated data), for the values the package refuses: a lone surrogate (valid JSON escape, not
 * valid Unicode) becomes its `\uXXXX` escape and a non-finite number null, as `JSON.stringify`
 * writes them. RFC 8785 defines nothing for those, and a row the sequencer cannot hash would stop
 * every organization's chain behind it. Iterative, so nesting depth is bounded by memory.
 */
export function canonicalJson(root: Json): string {
  if (root === null || typeof root !== "object") return jsonPrimitive(root);
  type Frame = { container: Json[] | { [key: string]: Json | undefined }; keys: string[] | null; index: number; first: boolean };
  const open = (container: Json[] | { [key: string]: Json | undefined }): Frame =>
    Array.isArray(container)
      ? { container, keys: null, index: 0, first: true }
      : { container, keys: Object.keys(container).sort(), index: 0, first: true };
  let out = Array.isArray(root) ? "[" : "{";
  const stack: Frame[] = [open(root)];
  outer: while (stack.length) {
    const frame = stack[stack.length - 1] as Frame;
    if (frame.keys === null) {
      const items = frame.container as Json[];
      while (frame.index < items.length) {
        const value = items[frame.index];
        if (frame.index++ > 0) out += ",";
        if (value === null || typeof value !== "object") {
          out += jsonPrimitive(value);
          continue;
        }
        out += Array.isArray(value) ? "[" : "{";
        stack.push(open(value));
        continue outer;
      }
      out += "]";
    } else {
      const object = frame.container as { [key: string]: Json | undefined };
      while (frame.index < frame.keys.length) {
        const key = frame.keys[frame.index++] as string;
        const value = object[key];
        if (value === undefined) continue;
        out += `${frame.first ? "" : ","}${JSON.stringify(key)}:`;
        frame.first = false;
        if (value === null || typeof value !== "object") {
          out += jsonPrimitive(value);
          continue;
        }
        out += Array.isArray(value) ? "[" : "{";
        stack.push(open(value));
        continue outer;
      }
      out += "}";
    }
    stack.pop();
  }
  return out;
}

/** The "previous hash" of an organization's first row. */
export const GENESIS_HASH = "0".repeat(64);

/**
 * Which fields a row's hash covers, stored with each sealed row (`activity_chain.hash_version`):
 * 1, the rows sealed before recorded_by was hashed (issue 17), kept as they were so that chains
 * and checkpoints from then still verify; 2, the same fields plus `recorded_by_user_id`,
 * `recorded_by_key_id` and `hash_version` itself. The sequencer seals every new row with the current one.
 */
export const HASH_VERSIONS = [1, 2] as const;
export type HashVersion = (typeof HASH_VERSIONS)[number];
export const CURRENT_HASH_VERSION: HashVersion = 2;

/** A row's immutable fields as the database, the API or an export carries them. */
export interface ChainRowInput {
  sequence: number;
  id: string;
  organization_id: string;
  team_id: number | string | null;
  user_id: number | string | null;
  was_impersonated: boolean | number | string;
  is_system: boolean | number | string;
  client: string | null;
  ip_address: string | null;
  activity: string;
  item_id: string | null;
  scope: string;
  /** JSON text. */
  detail: string | null;
  /** Milliseconds or ISO 8601. */
  created_at: number | string;
  /** Who wrote the row (hashed from version 2 on). */
  recorded_by_user_id?: number | string | null;
  recorded_by_key_id?: string | null;
  /** The row's hash version; absent or empty: 1 (exports from before version 2 have no such column). */
  hash_version?: number | string | null;
}

/** A row's hash version as stored or exported, or null when it is not one this code knows. */
export function hashVersionOf(row: Pick<ChainRowInput, "hash_version">): HashVersion | null {
  const v = row.hash_version;
  const n = v === undefined || v === null || v === "" ? 1 : Number(v);
  return (HASH_VERSIONS as readonly number[]).includes(n) ? (n as HashVersion) : null;
}

// An export writes null as "" and leaves an empty detail out, so the hashed form treats them alike.
const text = (v: string | null) => (v === null || v === "" ? null : v);
const int = (v: number | string | null) => (v === null || v === "" ? null : Number(v));
const bool = (v: boolean | number | string) => v === true || v === 1 || v === "1" || v === "true";

// Hashing never throws on what a row holds (a throw would stop the sequencer for every organization,
// or a verification with a 500): text that is not JSON, or not a date, is hashed as the text itself,
// which cannot match what was sealed from a valid row, so verify reports the row as changed.
function parsedDetail(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function isoDate(value: number | string): string {
  const ms = typeof value === "string" ? Date.parse(value) : value;
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(value);
}

/** The object whose RFC 8785 canonical JSON is hashed, for the row's hash version. */
export function chainRecord(row: ChainRowInput): Record<string, unknown> {
  const version = hashVersionOf(row);
  if (version === null) throw new Error(`unknown hash version ${row.hash_version}`);
  const record: Record<string, unknown> = {
    sequence: row.sequence,
    id: row.id,
    organization_id: row.organization_id,
    team_id: int(row.team_id),
    user_id: int(row.user_id),
    was_impersonated: bool(row.was_impersonated),
    is_system: bool(row.is_system),
    client: text(row.client),
    ip_address: text(row.ip_address),
    activity: row.activity,
    item_id: text(row.item_id),
    scope: row.scope,
    detail: row.detail ? parsedDetail(row.detail) : {},
    created_at: isoDate(row.created_at),
  };
  if (version === 1) return record;
  record.recorded_by_user_id = int(row.recorded_by_user_id ?? null);
  record.recorded_by_key_id = text(row.recorded_by_key_id ?? null);
  record.hash_version = version;
  return record;
}

const encoder = new TextEncoder();

/** The package for every value it accepts (all valid Unicode), `canonicalJson` for the rest. */
function canonical(record: Json): string {
  try {
    return canonicalize(record) as string;
  } catch {
    return canonicalJson(record);
  }
}

/**
 * hex(SHA-256(previous hash in hex + canonical JSON of the row)). Synchronous (node:crypto, workerd's
 * nodejs_compat and Node alike): the sequencer hashes every row, and WebCrypto's digest costs a
 * promise per row (docs/performance.md#hash-chain-with-recorded_by-issue-17).
 */
export function chainHash(previous: string, row: ChainRowInput): string {
  return createHash("sha256")
    .update(previous + canonical(chainRecord(row) as Json))
    .digest("hex");
}

/** What a signed checkpoint vouches for. */
export interface CheckpointClaim {
  organization_id: string;
  sequence: number;
  hash: string;
  signed_at: string;
}

export interface SignedCheckpoint extends CheckpointClaim {
  key_id: string;
  /** base64url Ed25519 signature of the claim's canonical JSON. */
  signature: string;
}

export const claimBytes = (claim: CheckpointClaim) =>
  encoder.encode(
    canonicalize({
      organization_id: claim.organization_id,
      sequence: claim.sequence,
      hash: claim.hash,
      signed_at: claim.signed_at,
    }) as string,
  );

export const base64url = (bytes: ArrayBuffer | Uint8Array) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");

const fromBase64url = (s: string) => Uint8Array.from(atob(s.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0));

/** RFC 7638 thumbprint of an Ed25519 public JWK: the key's id. */
export async function keyThumbprint(jwk: { crv?: string; kty?: string; x?: string }): Promise<string> {
  return base64url(await crypto.subtle.digest("SHA-256", encoder.encode(canonicalize({ crv: jwk.crv, kty: jwk.kty, x: jwk.x }))));
}

/** Whether `checkpoint` carries a valid signature by the public JWK `publicKey`. */
export async function verifyCheckpointSignature(checkpoint: SignedCheckpoint, publicKey: JsonWebKey): Promise<boolean> {
  const key = await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x: publicKey.x }, { name: "Ed25519" }, false, ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, key, fromBase64url(checkpoint.signature), claimBytes(checkpoint));
}

export interface ChainCheck {
  verified: boolean;
  checked: number;
  first_sequence: number | null;
  last_sequence: number | null;
  first_broken_sequence: number | null;
  reason: string | null;
}

/**
 * Recomputes a run of rows that should hold consecutive sequences from `start.sequence + 1`, each
 * with its stored `hash`; stops at the first row that breaks the chain. `checkpoints` (sequence ->
 * hash) are hashes vouched for elsewhere that the rows must reproduce.
 */
export async function checkChain(
  start: { sequence: number; hash: string },
  rows: Iterable<ChainRowInput & { hash: string | null }>,
  checkpoints: Map<number, string> = new Map(),
): Promise<ChainCheck & { head: { sequence: number; hash: string } }> {
  let previous = start;
  let checked = 0;
  let first: number | null = null;
  const broken = (sequence: number, reason: string) => ({
    verified: false,
    checked,
    first_sequence: first,
    last_sequence: checked ? previous.sequence : null,
    first_broken_sequence: sequence,
    reason,
    head: previous,
  });
  for (const row of rows) {
    const expected = previous.sequence + 1;
    if (row.sequence !== expected) {
      return broken(expected, row.sequence > expected ? `sequence ${expected} is missing` : `sequence ${row.sequence} appears twice`);
    }
    if (hashVersionOf(row) === null) return broken(row.sequence, `unknown hash version ${row.hash_version}`);
    const hash = chainHash(previous.hash, row);
    if (hash !== row.hash) return broken(row.sequence, "the row does not match its hash (changed, moved, or a row before it was)");
    const vouched = checkpoints.get(row.sequence);
    if (vouched !== undefined && vouched !== hash) return broken(row.sequence, "the chain differs from a signed checkpoint");
    first ??= row.sequence;
    checked += 1;
    previous = { sequence: row.sequence, hash };
  }
  return {
    verified: true,
    checked,
    first_sequence: first,
    last_sequence: checked ? previous.sequence : null,
    first_broken_sequence: null,
    reason: null,
    head: previous,
  };
}

export interface ExportVerification extends ChainCheck {
  checkpoint_sequence: number;
}

// The CSV writer puts a quote before a cell that a spreadsheet would run as a formula
// (src/exports/writers.ts, `guardFormula`, full-width forms included). XLSX cells are not guarded.
const unguard = (cell: string) => (/^'[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/.test(cell) ? cell.slice(1) : cell);

/** One XLSX cell as the text a CSV export would hold: dates as ISO 8601, numbers as written, empty as "". */
function xlsxCellText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (value instanceof Date) return new Date(Math.round(value.getTime())).toISOString();
  if (typeof value === "object") {
    const v = value as { richText?: { text: string }[]; text?: string; result?: unknown };
    if (v.richText) return v.richText.map((part) => part.text).join("");
    if (v.text !== undefined) return String(v.text);
    if (v.result !== undefined) return xlsxCellText(v.result);
  }
  return String(value);
}

/** An XLSX sheet's rows (the first one the header) as records by column name, every cell as text. */
export function xlsxRecords(rows: unknown[][]): Record<string, string>[] {
  const [header, ...body] = rows;
  const names = (header ?? []).map(xlsxCellText);
  return body.map((row) => Object.fromEntries(names.map((name, i) => [name, xlsxCellText(row[i])])));
}

/**
 * Verifies an export's rows (records by column name, every cell as text: CSV as parsed, XLSX cells
 * converted by the script) against a signed checkpoint: the signature, then the chain from the
 * export's first row through the checkpoint's sequence. The first row anchors the chain by its
 * hash (its own content is recomputed only when it is sequence 1), so an export that starts
 * earlier than the rows to prove is needed. Rows hash by their `hash_version` column (none: 1).
 */
export async function verifyExportRows(
  records: Record<string, string>[],
  checkpoint: SignedCheckpoint,
  publicKey: JsonWebKey,
  options: { formulaGuarded?: boolean } = {},
): Promise<ExportVerification> {
  const guarded = options.formulaGuarded ?? true;
  const fail = (reason: string, first_broken_sequence: number | null = null): ExportVerification => ({
    verified: false,
    checked: 0,
    first_sequence: null,
    last_sequence: null,
    first_broken_sequence,
    reason,
    checkpoint_sequence: checkpoint.sequence,
  });
  if (checkpoint.key_id !== (await keyThumbprint(publicKey))) return fail("the checkpoint was signed by another key");
  if (!(await verifyCheckpointSignature(checkpoint, publicKey))) return fail("the checkpoint's signature does not verify");
  const rows = records
    .map((r) => (guarded ? Object.fromEntries(Object.entries(r).map(([k, v]) => [k, unguard(v)])) : r))
    .filter((r) => r.organization_id === checkpoint.organization_id && r.sequence)
    .map((r) => ({
      sequence: Number(r.sequence),
      hash: r.hash ?? null,
      id: r.id ?? "",
      organization_id: r.organization_id ?? "",
      team_id: r.project_id ?? null,
      user_id: r.user_id ?? null,
      was_impersonated: r.was_impersonated ?? false,
      is_system: r.is_system ?? false,
      client: r.client ?? null,
      ip_address: r.ip_address ?? null,
      activity: r.activity ?? "",
      item_id: r.item_id ?? null,
      scope: r.scope ?? "",
      detail: r.detail || null,
      created_at: r.created_at ?? "",
      recorded_by_user_id: r.recorded_by_user_id ?? null,
      recorded_by_key_id: r.recorded_by_api_key_id ?? null,
      hash_version: r.hash_version ?? null,
    }))
    .sort((a, b) => a.sequence - b.sequence);
  const [first] = rows;
  if (!first) return fail("the export holds no sealed row of the checkpoint's organization");
  if (checkpoint.sequence < first.sequence) return fail(`the export starts after the checkpoint (at sequence ${first.sequence})`);
  const start = first.sequence === 1 ? { sequence: 0, hash: GENESIS_HASH } : { sequence: first.sequence, hash: first.hash ?? "" };
  const through = rows.filter((r) => r.sequence > start.sequence && r.sequence <= checkpoint.sequence);
  const { head, ...check } = await checkChain(start, through, new Map([[checkpoint.sequence, checkpoint.hash]]));
  if (check.verified && head.sequence < checkpoint.sequence) {
    return {
      ...check,
      verified: false,
      first_broken_sequence: head.sequence + 1,
      reason: `sequence ${head.sequence + 1} is missing`,
      checkpoint_sequence: checkpoint.sequence,
    };
  }
  return { ...check, checkpoint_sequence: checkpoint.sequence };
}
