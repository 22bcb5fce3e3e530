import { z } from "@hono/zod-openapi";

// ISO 8601 input dates. Without an offset a date is "naive": the caller says which time zone it
// is in (UTC for PostHog's filters, the organization's zone for the SD Elements feed).

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

export interface ParsedDate {
  /** Wall-clock milliseconds as if the fields were UTC. */
  wallMs: number;
  /** Minutes east of UTC, or null when the text carries no offset. */
  offsetMinutes: number | null;
}

export function parseIsoDate(text: string): ParsedDate | null {
  const m = ISO_DATE.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h = "0", mi = "0", s = "0", fraction = "", zone] = m;
  const fields = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)] as const;
  const wallMs = Date.UTC(...fields) + Number(fraction.padEnd(3, "0").slice(0, 3));
  const check = new Date(Date.UTC(...fields));
  if (check.getUTCMonth() !== fields[1] || check.getUTCDate() !== fields[2] || fields[3] > 23 || fields[4] > 59 || fields[5] > 59)
    return null;
  let offsetMinutes: number | null = null;
  if (zone) {
    if (zone.toUpperCase() === "Z") offsetMinutes = 0;
    else {
      const digits = zone.slice(1).replace(":", "");
      const minutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || "0");
      offsetMinutes = zone.startsWith("-") ? -minutes : minutes;
    }
  }
  return { wallMs, offsetMinutes };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function zoneOffsetMs(utcMs: number, timeZone: string): number {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(timeZone, formatter);
  }
  const parts = Object.fromEntries(formatter.formatToParts(new Date(utcMs)).map((p) => [p.type, p.value]));
  const asUtc = Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

/** The instant a parsed date denotes; naive dates are read in `timeZone`. */
export function toEpochMs(date: ParsedDate, timeZone = "UTC"): number {
  if (date.offsetMinutes !== null) return date.wallMs - date.offsetMinutes * 60_000;
  if (timeZone === "UTC") return date.wallMs;
  const first = date.wallMs - zoneOffsetMs(date.wallMs, timeZone);
  const second = date.wallMs - zoneOffsetMs(first, timeZone);
  return second;
}

/** An optional ISO 8601 query parameter as epoch ms; a 400 naming the format otherwise. */
export const isoDateParam = (description: string) =>
  z
    .string()
    .transform((value, ctx) => {
      const parsed = parseIsoDate(value);
      if (!parsed) {
        ctx.addIssue({ code: "custom", message: "Datetime has wrong format. Use ISO 8601, e.g. 2024-01-31T12:00:00Z." });
        return z.NEVER;
      }
      return toEpochMs(parsed);
    })
    .optional()
    .openapi({ description, type: "string", format: "date-time" });
