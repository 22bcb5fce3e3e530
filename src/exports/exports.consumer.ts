import type { Env } from "../env";

export type ExportJob = { exportId: string };

/** STUB (issue #3 fills it): will write export files to R2 chunk by chunk. Acknowledges for now. */
export async function consumeExports(batch: MessageBatch<ExportJob>, _env: Env): Promise<void> {
  batch.ackAll();
}
