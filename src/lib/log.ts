import { AsyncLocalStorage } from "node:async_hooks";

/** What a log line belongs to: a request (its id), a queue batch or a cron tick. */
export type LogContext = Record<string, string | number | undefined>;

const current = new AsyncLocalStorage<LogContext>();

/** Runs `work` with `context` added to every log line written inside it. */
export const withLogContext = <T>(context: LogContext, work: () => Promise<T>): Promise<T> => current.run(context, work);

const errorFields = (_key: string, value: unknown) =>
  value instanceof Error ? { name: value.name, message: value.message, stack: value.stack, cause: value.cause } : value;

/**
 * One JSON line, as Workers Logs and Logpush index it: `level`, `message`, the context (request id,
 * queue or cron) and `fields`. Callers never pass secrets, keys or request bodies.
 */
export function log(level: "info" | "warn" | "error", message: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ level, message, ...current.getStore(), ...fields }, errorFields);
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}
