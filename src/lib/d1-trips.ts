/** D1 calls of one request: how many round trips they made and the time spent waiting on them. */
export interface D1Trips {
  count: number;
  ms: number;
}

/** Either the binding or a Sessions API session: drizzle and the queries use only `prepare` and `batch`. */
export type D1Like = D1Database | D1DatabaseSession;

const EXECUTORS = new Set(["first", "all", "raw", "run"]);

// Proxies forward to the workerd objects with `target` as `this` (their methods and getters refuse
// a proxy as receiver); `batch` unwraps statements so D1 receives its own objects.
const unwrapped = new WeakMap<object, D1PreparedStatement>();

async function timed<T>(trips: D1Trips, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  trips.count++;
  try {
    return await work();
  } finally {
    trips.ms += Date.now() - started;
  }
}

function countingStatement(statement: D1PreparedStatement, trips: D1Trips): D1PreparedStatement {
  const proxy = new Proxy(statement, {
    get(target, prop) {
      const value = (target as unknown as Record<PropertyKey, unknown>)[prop];
      if (typeof value !== "function") return value;
      if (prop === "bind") return (...params: unknown[]) => countingStatement(target.bind(...params), trips);
      if (typeof prop === "string" && EXECUTORS.has(prop)) {
        return (...args: unknown[]) => timed(trips, () => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args));
      }
      return value.bind(target);
    },
  });
  unwrapped.set(proxy, statement);
  return proxy;
}

/** `db` counting every call that reaches D1: a statement's first/all/raw/run, a batch, an exec. */
export function countingD1<T extends D1Like>(db: T, trips: D1Trips): T {
  return new Proxy(db, {
    get(target, prop) {
      const value = (target as unknown as Record<PropertyKey, unknown>)[prop];
      if (typeof value !== "function") return value;
      if (prop === "prepare") return (query: string) => countingStatement(target.prepare(query), trips);
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => timed(trips, () => target.batch(statements.map((s) => unwrapped.get(s) ?? s)));
      }
      if (prop === "exec") return (query: string) => timed(trips, () => (target as D1Database).exec(query));
      if (prop === "withSession") {
        return (constraint?: string) => countingD1((target as D1Database).withSession(constraint), trips);
      }
      return value.bind(target);
    },
  });
}

/** The Server-Timing description of a request's D1 work: `2 round trips`. */
export function roundTripsDescription(count: number): string {
  return `${count} round trip${count === 1 ? "" : "s"}`;
}
