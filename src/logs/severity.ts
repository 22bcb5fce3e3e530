export const SEVERITY_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;
export type SeverityLevel = (typeof SEVERITY_LEVELS)[number];

const TEXT_ALIASES: Record<string, SeverityLevel> = {
  trace: "trace",
  debug: "debug",
  dbug: "debug",
  info: "info",
  information: "info",
  informational: "info",
  notice: "info",
  warn: "warn",
  warning: "warn",
  error: "error",
  err: "error",
  eror: "error",
  fatal: "fatal",
  critical: "fatal",
  crit: "fatal",
  alert: "fatal",
  emerg: "fatal",
  emergency: "fatal",
  panic: "fatal",
};

/** OTLP severity numbers come in four steps per level: 1-4 trace, 5-8 debug, ... 21-24 fatal. */
export function severityFromNumber(number: number): SeverityLevel | null {
  if (!Number.isInteger(number) || number < 1 || number > 24) return null;
  return SEVERITY_LEVELS[Math.floor((number - 1) / 4)] ?? null;
}

export function severityFromText<T extends SeverityLevel | null>(text: string, fallback: T): SeverityLevel | T {
  return TEXT_ALIASES[text.trim().toLowerCase()] ?? fallback;
}

/** The first number of the level's range (info -> 9), as PostHog derives it from text. */
export function severityNumberOf(level: SeverityLevel): number {
  return SEVERITY_LEVELS.indexOf(level) * 4 + 1;
}
