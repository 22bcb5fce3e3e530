// UUID v7 (RFC 9562): 48-bit millisecond timestamp, then random bits, so ids sort by creation time.
export function uuidv7(now = Date.now()): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let ms = now;
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x70;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = toHex(bytes);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** `count` UUID v7s of the same millisecond, sorted (one random draw for all: batch ingest makes a thousand). */
export function uuidv7s(count: number, now = Date.now()): string[] {
  const random = new Uint8Array(count * 10);
  // getRandomValues fills at most 64 KiB per call.
  for (let i = 0; i < random.length; i += 65_536) crypto.getRandomValues(random.subarray(i, i + 65_536));
  const time = now.toString(16).padStart(12, "0");
  const prefix = `${time.slice(0, 8)}-${time.slice(8, 12)}-7`;
  const ids: string[] = [];
  for (let i = 0, o = 0; i < count; i++, o += 10) {
    const r = (k: number) => HEX[random[o + k]!]!;
    ids.push(`${prefix}${r(0).slice(1)}${r(1)}-${HEX[(random[o + 2]! & 0x3f) | 0x80]}${r(3)}-${r(4)}${r(5)}${r(6)}${r(7)}${r(8)}${r(9)}`);
  }
  return ids.sort();
}

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += HEX[b];
  return out;
}

export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
}

const TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A random token of `length` characters from [A-Za-z0-9], without modulo bias. */
export function randomToken(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const b of crypto.getRandomValues(new Uint8Array(length))) {
      if (b < 248 && out.length < length) out += TOKEN_ALPHABET[b % 62];
    }
  }
  return out;
}

export async function sha256Hex(value: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value));
  return toHex(new Uint8Array(digest));
}
