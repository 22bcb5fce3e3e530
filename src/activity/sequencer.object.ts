import { DurableObject } from "cloudflare:workers";
import type { ChainShard, Sequencer } from "../audit/sequencer";
import type { Env } from "../env";
import { sealBacklog } from "./chain";

/** Rows sealed per D1 round trip (each carries one batch's writes and the next batch's read). */
const ROWS_PER_BATCH = 2000;
/** A run longer than this (a backlog, e.g. the rows from before the chain existed) goes on in the alarm. */
const RUN_BUDGET_MS = 10_000;
/** Where the object keeps its shard for the alarm (an object is named by its shard, and only ever seals that one). */
const SHARD_KEY = "shard";

/**
 * Seals committed activity rows of one shard of organizations into their chains (one object per
 * shard, src/audit/sequencer.ts). Calls that arrive while a run is going on share it, and it makes
 * one more pass for them, so runs never overlap and every caller's rows are sealed when its call
 * resolves (unless the run hands a backlog to the alarm).
 */
export class ActivitySequencerObject extends DurableObject<Env> implements Sequencer {
  private running: Promise<number> | null = null;
  private again = false;

  seal(shard: ChainShard): Promise<number> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.run(shard);
    return this.running;
  }

  override async alarm(): Promise<void> {
    const shard = await this.ctx.storage.get<ChainShard>(SHARD_KEY);
    if (shard !== undefined) await this.seal(shard);
  }

  private async run(shard: ChainShard): Promise<number> {
    const deadline = Date.now() + RUN_BUDGET_MS;
    let sealed = 0;
    try {
      do {
        this.again = false;
        const run = await sealBacklog(this.env.DB, shard, ROWS_PER_BATCH, () => Date.now() < deadline);
        sealed += run.sealed;
        if (run.more) {
          await this.ctx.storage.put(SHARD_KEY, shard);
          await this.ctx.storage.setAlarm(Date.now());
          break;
        }
      } while (this.again);
    } finally {
      // In the same turn as the last check of `again`: a later call starts a new run.
      this.running = null;
    }
    return sealed;
  }
}
