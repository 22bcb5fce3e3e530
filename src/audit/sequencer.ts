import type { Env } from "../env";

/** The activity chain's sequencer (src/activity/sequencer.object.ts): one object for the instance. */
export interface Sequencer {
  /** Seals every committed row not sealed yet; resolves once the rows committed before the call are sealed. */
  seal(): Promise<number>;
}

export const sequencerStub = (env: Env) =>
  env.ACTIVITY_SEQUENCER.get(env.ACTIVITY_SEQUENCER.idFromName("activity-chain")) as unknown as DurableObjectStub & Sequencer;

/** Asks the sequencer to seal new rows; failures are left to the cron's catch-up. */
export async function sealSoon(env: Env): Promise<void> {
  try {
    await sequencerStub(env).seal();
  } catch (error) {
    console.error("activity sequencer", error);
  }
}
