import { DurableObject } from "cloudflare:workers";
import type { Sequencer } from "../audit/sequencer";
import type { Env } from "../env";
import { sealPending } from "./chain";

const ROWS_PER_BATCH = 2000;

/**
 * Seals committed activity rows into their organizations' chains. Calls that arrive while a run
 * is going on share it, and it makes one more pass for them, so every caller's rows are sealed when
 * its call resolves while runs never overlap.
 */
export class ActivitySequencerObject extends DurableObject<Env> implements Sequencer {
  private running: Promise<number> | null = null;
  private again = false;

  seal(): Promise<number> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.run();
    return this.running;
  }

  private async run(): Promise<number> {
    let sealed = 0;
    try {
      do {
        this.again = false;
        let n: number;
        do {
          n = await sealPending(this.env.DB, ROWS_PER_BATCH);
          sealed += n;
        } while (n === ROWS_PER_BATCH);
      } while (this.again);
    } finally {
      // In the same turn as the last check of `again`: a later call starts a new run.
      this.running = null;
    }
    return sealed;
  }
}
