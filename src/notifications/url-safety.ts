// Destination URLs are fetched by the Worker, so a URL naming an internal address would let an
// API user probe or call internal services (SSRF). Hosts are checked as the URL parser
// canonicalises them: WHATWG parsing already turns decimal, hex, octal and short IPv4 forms
// (`2130706433`, `0x7f000001`, `0177.1`) into dotted quads and compresses IPv6, so one check per
// family covers every notation. Hostnames are not resolved here (Workers have no DNS API): a public
// name that resolves to a private address is not caught; see the README.

const MAX_URL_LENGTH = 2048;

type Cidr = [base: number, bits: number];

const ipv4 = (a: number, b: number, c: number, d: number) => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;

const LOOPBACK_V4: Cidr = [ipv4(127, 0, 0, 0), 8];

const BLOCKED_V4: Cidr[] = [
  [ipv4(0, 0, 0, 0), 8], // "this network"
  [ipv4(10, 0, 0, 0), 8], // private
  [ipv4(100, 64, 0, 0), 10], // CGNAT (includes Alibaba's metadata 100.100.100.200)
  LOOPBACK_V4,
  [ipv4(169, 254, 0, 0), 16], // link-local (AWS/GCP/Azure metadata 169.254.169.254)
  [ipv4(172, 16, 0, 0), 12], // private
  [ipv4(192, 0, 0, 0), 24], // IETF protocol assignments
  [ipv4(192, 0, 2, 0), 24], // documentation
  [ipv4(192, 88, 99, 0), 24], // 6to4 relay anycast
  [ipv4(192, 168, 0, 0), 16], // private
  [ipv4(198, 18, 0, 0), 15], // benchmarking
  [ipv4(198, 51, 100, 0), 24], // documentation
  [ipv4(203, 0, 113, 0), 24], // documentation
  [ipv4(224, 0, 0, 0), 4], // multicast
  [ipv4(240, 0, 0, 0), 4], // reserved and broadcast
  [ipv4(168, 63, 129, 16), 32], // Azure wire server
];

const inCidr = (address: number, [base, bits]: Cidr) => bits === 0 || address >>> (32 - bits) === base >>> (32 - bits);

const BLOCKED_NAMES = new Set(["metadata", "metadata.google.internal", "metadata.goog", "instance-data", "kubernetes.default"]);
const BLOCKED_SUFFIXES = [".internal", ".local", ".localdomain", ".home.arpa", ".intranet", ".corp", ".lan"];

export interface UrlCheckOptions {
  /** `ALLOW_LOOPBACK_DESTINATIONS`: local development may use http(s)://127.0.0.1 and localhost. */
  allowLoopback: boolean;
}

export const allowLoopback = (env: { ALLOW_LOOPBACK_DESTINATIONS?: string }): UrlCheckOptions => ({
  allowLoopback: env.ALLOW_LOOPBACK_DESTINATIONS === "true",
});

/** Why `raw` may not be used as a destination URL, or null when it may. */
export function urlRefusal(raw: string, options: UrlCheckOptions): string | null {
  if (raw.length > MAX_URL_LENGTH) return `URL is longer than ${MAX_URL_LENGTH} characters.`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "Enter a valid URL.";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "URL must use https.";
  if (url.username || url.password) return "URL must not contain credentials.";
  const host = url.hostname.toLowerCase().replace(/\.+$/, "");
  const kind = hostKind(host);
  if (kind === "loopback") {
    return options.allowLoopback ? null : "URL must not point at a loopback address.";
  }
  if (url.protocol !== "https:") return "URL must use https.";
  if (kind === "private") return "URL must not point at a private, link-local, reserved or metadata address.";
  if (kind === "internal-name") return "URL must name a public host.";
  return null;
}

const SLACK_WEBHOOK_HOST = "hooks.slack.com";

/**
 * `urlRefusal`, and a Slack destination must be a Slack incoming webhook (or loopback, when allowed,
 * for a local stand-in): Slack bodies are unsigned, so any other host would receive them unverifiable.
 */
export function destinationUrlRefusal(type: "slack" | "webhook", raw: string, options: UrlCheckOptions): string | null {
  const refusal = urlRefusal(raw, options);
  if (refusal || type !== "slack") return refusal;
  const url = new URL(raw);
  if (url.protocol === "https:" && url.host === SLACK_WEBHOOK_HOST) return null;
  if (options.allowLoopback && hostKind(url.hostname.toLowerCase()) === "loopback") return null;
  return `A Slack destination must be a Slack incoming webhook URL (https://${SLACK_WEBHOOK_HOST}/...).`;
}

type HostKind = "public" | "loopback" | "private" | "internal-name";

function hostKind(host: string): HostKind {
  if (host.startsWith("[")) return ipv6Kind(host.slice(1, -1));
  const v4 = parseDottedQuad(host);
  if (v4 !== null) return ipv4Kind(v4);
  if (host === "localhost" || host.endsWith(".localhost")) return "loopback";
  if (!host.includes(".")) return "internal-name";
  if (BLOCKED_NAMES.has(host) || BLOCKED_SUFFIXES.some((suffix) => host.endsWith(suffix))) return "internal-name";
  // The parser canonicalises numeric hosts; a numeric-looking last label that survived it is not a name.
  const last = host.slice(host.lastIndexOf(".") + 1);
  if (/^(\d+|0x[0-9a-f]*)$/.test(last)) return "internal-name";
  return "public";
}

function parseDottedQuad(host: string): number | null {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!match) return null;
  const parts = match.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  const [a, b, c, d] = parts as [number, number, number, number];
  return ipv4(a, b, c, d);
}

function ipv4Kind(address: number): HostKind {
  if (inCidr(address, LOOPBACK_V4)) return "loopback";
  return BLOCKED_V4.some((cidr) => inCidr(address, cidr)) ? "private" : "public";
}

/** The eight 16-bit groups of an IPv6 address (an embedded dotted quad allowed), or null. */
export function parseIpv6(text: string): number[] | null {
  let source = text.toLowerCase();
  const zone = source.indexOf("%");
  if (zone >= 0) source = source.slice(0, zone);
  const dotted = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(source);
  if (dotted?.[1]) {
    const v4 = parseDottedQuad(dotted[1]);
    if (v4 === null) return null;
    source = `${source.slice(0, dotted.index)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = source.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string | undefined) => (part ? part.split(":") : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (all.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return null;
  return all.map((g) => Number.parseInt(g, 16));
}

function ipv6Kind(text: string): HostKind {
  const g = parseIpv6(text);
  if (!g) return "private";
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const embeddedV4 = ((g6 << 16) | g7) >>> 0;
  const firstFiveZero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (firstFiveZero && g5 === 0 && g6 === 0 && g7 === 1) return "loopback"; // ::1
  if (firstFiveZero && (g5 === 0xffff || g5 === 0)) return ipv4Kind(embeddedV4); // mapped, compatible (:: is 0.0.0.0)
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return ipv4Kind(embeddedV4); // NAT64
  if (g0 === 0x2002) return ipv4Kind(((g1 << 16) | g2) >>> 0); // 6to4 embeds the IPv4 address
  // Only 2000::/3 is global unicast: this refuses unique-local fc00::/7 (AWS metadata fd00:ec2::254),
  // link-local fe80::/10, multicast and the rest of the reserved space.
  if ((g0 & 0xe000) !== 0x2000) return "private";
  if (g0 === 0x2001 && (g1 < 0x200 || g1 === 0xdb8)) return "private"; // 2001::/23 special purpose (Teredo...), documentation
  return "public";
}
