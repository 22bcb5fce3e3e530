import type { SQL } from "drizzle-orm";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/client";

interface Pending {
  statement: D1PreparedStatement;
  first: boolean;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Runs many read-only tasks written against `Db` (here: the logs layer's `countLogs` for every
 * alert of a chunk) so that their queries share D1 round trips. Each task gets a facade whose
 * `get` / `all` queue the query; once every unfinished task waits on a query, the queue goes to D1
 * as one batch. Any other `Db` method runs directly. A failing statement fails only its own task.
 */
export class BatchedReads {
  private pending: Pending[] = [];
  private changed = () => {};
  private readonly dialect = new SQLiteAsyncDialect({ casing: "snake_case" });

  constructor(private readonly d1: D1Database) {}

  facade(db: Db): Db {
    return new Proxy(db, {
      get: (target, property, receiver) => {
        if (property === "get") return (query: SQL) => this.enqueue(query, true);
        if (property === "all") return (query: SQL) => this.enqueue(query, false);
        return Reflect.get(target, property, receiver);
      },
    });
  }

  async run<T>(tasks: (() => Promise<T>)[]): Promise<PromiseSettledResult<T>[]> {
    let open = tasks.length;
    let wake = () => {};
    this.changed = () => wake();
    const settled = Promise.allSettled(
      tasks.map((task) =>
        task().finally(() => {
          open--;
          wake();
        }),
      ),
    );
    // A round goes out once every unfinished task waits on a query.
    while (open > 0) {
      if (this.pending.length < open) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      await this.flush(this.pending.splice(0));
    }
    return settled;
  }

  private enqueue(query: SQL, first: boolean): Promise<unknown> {
    const { sql, params } = this.dialect.sqlToQuery(query);
    return new Promise((resolve, reject) => {
      this.pending.push({ statement: this.d1.prepare(sql).bind(...params), first, resolve, reject });
      this.changed();
    });
  }

  private async flush(round: Pending[]): Promise<void> {
    const settle = (p: Pending, rows: unknown[]) => p.resolve(p.first ? rows[0] : rows);
    try {
      const results = await this.d1.batch(round.map((p) => p.statement));
      for (const [i, p] of round.entries()) settle(p, results[i]?.results ?? []);
    } catch {
      // One bad statement fails the whole batch: run each alone so only its own task fails.
      await Promise.all(
        round.map(async (p) => {
          try {
            settle(p, (await p.statement.all()).results);
          } catch (error) {
            p.reject(error);
          }
        }),
      );
    }
  }
}
