import type { Env } from "../env";
import { log } from "../lib/log";

/**
 * The chain's shards: an organization's rows are sealed by the sequencer of the last character of
 * its id (a UUID, so one of 16 hex digits, evenly spread), each shard with its own mark. Sealing
 * then runs in 16 objects instead of one: one busy organization's backlog holds up only its shard,
 * and the instance seals up to 16 times the rows one object can hash. An organization's chain is
 * still one sequence, sealed by one object.
 */
export const CHAIN_SHARDS = [..."0123456789abcdef"] as const;
export type ChainShard = (typeof CHAIN_SHARDS)[number];

/** The shard of an organization's rows (the same as SQL's `substr(organization_id, -1)`). */
export const chainShardOf = (organizationId: string) => organizationId.slice(-1) as ChainShard;

/** The activity chain's sequencer of one shard (src/activity/sequencer.object.ts). */
export interface Sequencer {
  /** Seals every committed row of the shard not sealed yet; resolves once the rows committed before the call are sealed. */
  seal(shard: ChainShard): Promise<number>;
}

export const sequencerStub = (env: Env, shard: ChainShard) =>
  env.ACTIVITY_SEQUENCER.get(env.ACTIVITY_SEQUENCER.idFromName(`activity-chain-${shard}`)) as unknown as DurableObjectStub & Sequencer;

/** Seals every shard's committed rows (the cron's catch-up, retention, tests); resolves with the rows sealed. */
export async function sealAllShards(env: Env): Promise<number> {
  const sealed = await Promise.all(CHAIN_SHARDS.map((shard) => sequencerStub(env, shard).seal(shard)));
  return sealed.reduce((a, b) => a + b, 0);
}

/** Asks the sequencers of these organizations' shards to seal new rows; failures are left to the cron's catch-up. */
export async function sealSoon(env: Env, organizationIds: string[]): Promise<void> {
  const shards = new Set(organizationIds.map(chainShardOf).filter((shard) => CHAIN_SHARDS.includes(shard)));
  await Promise.all(
    [...shards].map(async (shard) => {
      try {
        await sequencerStub(env, shard).seal(shard);
      } catch (error) {
        log("error", "activity sequencer call failed; the cron's catch-up will seal", { shard, error });
      }
    }),
  );
}
