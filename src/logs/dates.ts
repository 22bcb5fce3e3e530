import { validationError } from "../lib/errors";
import { iso } from "../lib/time";
import type { DateRange } from "./logs.schemas";

const ISO_DATE = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/i;
const RELATIVE = /^-?(\d+)?([smhdwqyM])(Start|End)?$/;
const DEFAULT_FROM = "-1h";

/** ISO 8601 (date, or date-time with optional fraction and offset; no offset = UTC) as microseconds. */
export function parseIsoMicros(text: string): number | null {
  const match = ISO_DATE.exec(text.trim());
  if (!match) return null;
  const [, date, time = "00:00:00", fraction = "", zone = "Z"] = match;
  const ms = Date.parse(
    `${date}T${time.length === 5 ? `${time}:00` : time}${zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone}`,
  );
  if (Number.isNaN(ms)) return null;
  return ms * 1000 + Number(fraction.padEnd(6, "0").slice(0, 6));
}

/** Microseconds as ISO 8601 UTC with six fractional digits (`2026-01-01T12:00:00.123456Z`). */
export function isoMicros(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const base = iso(ms) as string;
  return `${base.slice(0, -1)}${String(micros - ms * 1000).padStart(3, "0")}Z`;
}

/** PostHog's relative dates: `-{n}{unit}` with s, M (minutes), h, d, w, m (months), q, y, and `Start`/`End` of the unit. */
function parseRelative(text: string, now: number): number | null {
  const match = RELATIVE.exec(text.trim());
  if (!match) return null;
  const [, count, unit, position] = match;
  const n = count ? Number(count) : 0;
  const d = new Date(now);
  switch (unit) {
    case "s":
      d.setUTCSeconds(d.getUTCSeconds() - n);
      break;
    case "M":
      d.setUTCMinutes(d.getUTCMinutes() - n);
      break;
    case "h":
      d.setUTCHours(d.getUTCHours() - n);
      if (position === "Start") d.setUTCMinutes(0, 0, 0);
      if (position === "End") d.setUTCMinutes(59, 59, 999);
      break;
    case "d":
      d.setUTCDate(d.getUTCDate() - n);
      if (position === "Start") d.setUTCHours(0, 0, 0, 0);
      if (position === "End") d.setUTCHours(23, 59, 59, 999);
      break;
    case "w":
      d.setUTCDate(d.getUTCDate() - 7 * n);
      break;
    case "m":
      d.setUTCMonth(d.getUTCMonth() - n);
      if (position === "Start") d.setUTCDate(1);
      break;
    case "q":
      d.setUTCDate(d.getUTCDate() - 91 * n);
      break;
    case "y":
      d.setUTCFullYear(d.getUTCFullYear() - n);
      if (position === "Start") d.setUTCMonth(0, 1);
      break;
  }
  return d.getTime() * 1000;
}

/** An ISO or relative date as microseconds; `now` in milliseconds. */
export function parseDate(text: string, now: number, attr: string): number {
  const micros = parseIsoMicros(text) ?? parseRelative(text, now);
  if (micros === null) throw validationError(`"${text}" is neither an ISO 8601 date nor a relative date like -1h or -7d.`, attr);
  return micros;
}

/** `[from, to)` in microseconds; the default range is the last hour, as in PostHog. */
export function resolveDateRange(range: DateRange | undefined, now: number, attrPrefix: string): { from: number; to: number } {
  const from = parseDate(range?.date_from || DEFAULT_FROM, now, `${attrPrefix}__date_from`);
  const to = range?.date_to ? parseDate(range.date_to, now, `${attrPrefix}__date_to`) : now * 1000;
  if (from >= to) throw validationError("date_from must be before date_to.", `${attrPrefix}__date_from`);
  return { from, to };
}
