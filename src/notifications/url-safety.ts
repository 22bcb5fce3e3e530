// Destination URLs are fetched by the Worker, so a URL naming an internal address would let an
// API user probe or call internal services (SSRF). Hosts are checked as the URL parser
// canonicalises them: WHATWG parsing already turns decimal, hex, octal and short IPv4 forms
// (`2130706433`, `0x7f000001`, `0177.1`) into dotted quads and compresses IPv6, so one check per
// family covers every notation. Hostnames are not resolved here (Workers have no DNS API): a public
// name that resolves to a private address is not caught; see the README.

import ipaddr from "ipaddr.js";

const MAX_URL_LENGTH = 2048;

// ipaddr.js names the special-purpose ranges (RFC 6890 and later: private, loopback, link-local,
// CGNAT, documentation, benchmarking, multicast, reserved, ...); only its `unicast` is public.
// Beside them: the Azure wire server, a public address that answers only inside Azure.
const AZURE_WIRE_SERVER = ipaddr.IPv4.parse("168.63.129.16");
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR("2000::/3");

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
  // The parser has already canonicalised numeric IPv4 hosts to dotted quads.
  if (ipaddr.IPv4.isValidFourPartDecimal(host)) return ipv4Kind(ipaddr.IPv4.parse(host));
  if (host === "localhost" || host.endsWith(".localhost")) return "loopback";
  if (!host.includes(".")) return "internal-name";
  if (BLOCKED_NAMES.has(host) || BLOCKED_SUFFIXES.some((suffix) => host.endsWith(suffix))) return "internal-name";
  // A numeric-looking last label that survived the parser's canonicalisation is not a name.
  const last = host.slice(host.lastIndexOf(".") + 1);
  if (/^(\d+|0x[0-9a-f]*)$/.test(last)) return "internal-name";
  return "public";
}

function ipv4Kind(address: ipaddr.IPv4): HostKind {
  const range = address.range();
  if (range === "loopback") return "loopback";
  return range === "unicast" && address.toString() !== AZURE_WIRE_SERVER.toString() ? "public" : "private";
}

const embeddedV4 = (address: ipaddr.IPv6, first: number) => {
  const p = address.parts;
  return new ipaddr.IPv4([p[first]! >> 8, p[first]! & 0xff, p[first + 1]! >> 8, p[first + 1]! & 0xff]);
};

function ipv6Kind(text: string): HostKind {
  if (!ipaddr.IPv6.isValid(text)) return "private";
  const address = ipaddr.IPv6.parse(text);
  const range = address.range();
  if (range === "loopback") return "loopback";
  // IPv4-mapped, IPv4-compatible (`::` is 0.0.0.0), NAT64 and 6to4 addresses reach an IPv4 address.
  if (range === "ipv4Mapped" || address.parts.slice(0, 6).every((part) => part === 0)) return ipv4Kind(embeddedV4(address, 6));
  if (range === "rfc6052" && address.parts[2] === 0) return ipv4Kind(embeddedV4(address, 6));
  if (range === "6to4") return ipv4Kind(embeddedV4(address, 1));
  // Only 2000::/3 is global unicast: unique-local fc00::/7 (AWS metadata fd00:ec2::254), link-local
  // fe80::/10, multicast and the rest of the reserved space are refused with the named ranges.
  return range === "unicast" && address.match(GLOBAL_UNICAST_V6) ? "public" : "private";
}
