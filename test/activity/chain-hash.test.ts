import canonicalize from "canonicalize";
import { describe, expect, it } from "vitest";
import { canonicalJson, chainHash, GENESIS_HASH } from "../../src/lib/chain-hash";

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

// Strings that stress escaping and key order: quotes, backslashes, controls, line separators, BMP
// characters above the surrogates (which sort after them by UTF-16 code unit), astral characters.
const PIECES = [
  "a",
  "B",
  "é",
  '"',
  "\\",
  "\n",
  "\u0001",
  "\u001f",
  "\u2028",
  "\u007f",
  "\uffff",
  "\ue000",
  "😀",
  "𝄞",
  "€",
  " ",
  "0",
  "_",
  "__proto__",
];
const NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.1,
  0.1 + 0.2,
  1e21,
  1e-7,
  123456789012345680000,
  5e-324,
  Number.MAX_SAFE_INTEGER,
  -1.5e-300,
  2 ** 53 + 2,
  4.35,
  1e300,
];

function value(random: () => number, depth: number): unknown {
  const r = random();
  const text = () => Array.from({ length: Math.floor(random() * 5) }, () => PIECES[Math.floor(random() * PIECES.length)]).join("");
  if (depth > 4 || r < 0.35) {
    const p = random();
    if (p < 0.25) return text();
    if (p < 0.5) return NUMBERS[Math.floor(random() * NUMBERS.length)]! * (random() < 0.5 ? 1 : random());
    if (p < 0.65) return random() < 0.5;
    return p < 0.75 ? null : Math.floor(random() * 1e6);
  }
  if (r < 0.65) return Array.from({ length: Math.floor(random() * 5) }, () => value(random, depth + 1));
  return Object.fromEntries(Array.from({ length: Math.floor(random() * 6) }, () => [text(), value(random, depth + 1)]));
}

describe("canonicalJson", () => {
  it("writes what the canonicalize package writes, for 5,000 generated JSON values", () => {
    const random = rng(42);
    for (let i = 0; i < 5000; i++) {
      // Through JSON text, as a stored detail is read back.
      const data = JSON.parse(JSON.stringify(value(random, 0)));
      expect(canonicalJson(data)).toBe(canonicalize(data));
    }
  });

  it("handles nesting deeper than the call stack, as the package does", () => {
    let deep: unknown = [1];
    for (let i = 0; i < 20_000; i++) deep = i % 2 ? [deep] : { k: deep };
    expect(canonicalJson(deep as never)).toBe(canonicalize(deep));
  });

  it("hashes a lone surrogate (which RFC 8785 and the package refuse) as JSON.stringify escapes it, instead of throwing", () => {
    const data = { b: "x\ud800", a: ["\udc00"] };
    expect(() => canonicalize(data)).toThrow();
    expect(canonicalJson(data)).toBe('{"a":["\\udc00"],"b":"x\\ud800"}');
  });

  it("never throws on a row: text that is not JSON or not a date is hashed as text", () => {
    const row = {
      sequence: 1,
      id: "r",
      organization_id: "o",
      team_id: null,
      user_id: null,
      was_impersonated: false,
      is_system: false,
      client: null,
      ip_address: null,
      activity: "updated",
      item_id: "x\ud800",
      scope: "Flag",
      detail: '{"name":"a\\udc00"',
      created_at: "not a date",
      hash_version: 2,
    };
    expect(chainHash(GENESIS_HASH, row)).toMatch(/^[0-9a-f]{64}$/);
    expect(chainHash(GENESIS_HASH, { ...row, detail: '{"name":"a"}', created_at: 0 })).not.toBe(chainHash(GENESIS_HASH, row));
  });
});
