import { createExecutionContext, createMessageBatch, getQueueResult, type QueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { vi } from "vitest";
import { handleQueue } from "../src/queues";

export interface RunResult extends QueueResult {
  /** The `delaySeconds` each retried message asked for (this plugin version leaves it out of retryMessages). */
  delays: (number | undefined)[];
}

let batches = 0;

/** Runs the Worker's queue handler on a hand-made batch and returns what it acked and retried. */
export async function runQueue<T>(queue: string, messages: { body: T; attempts?: number; id?: string }[]): Promise<RunResult> {
  const batch = createMessageBatch<T>(
    queue,
    messages.map((m, i) => ({ id: m.id ?? `msg-${++batches}-${i}`, timestamp: new Date(), attempts: m.attempts ?? 1, body: m.body })),
  );
  const delays: (number | undefined)[] = [];
  for (const message of batch.messages) {
    const retry = message.retry.bind(message);
    vi.spyOn(message, "retry").mockImplementation((options) => {
      delays.push(options?.delaySeconds);
      retry(options);
    });
  }
  await handleQueue(batch as MessageBatch<unknown>, env);
  return { ...(await getQueueResult(batch, createExecutionContext())), delays };
}
