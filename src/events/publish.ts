import type { Env } from "../env";
import type { NotificationMessage } from "../lib/messages";

// Queues take at most 100 messages and 256 KB per sendBatch; stay under the byte limit with room for framing.
const MAX_MESSAGES_PER_SEND = 100;
const MAX_BYTES_PER_SEND = 200_000;

/** Sends messages in as few `sendBatch` calls as the Queues limits allow. */
export async function sendMessages(env: Env, messages: NotificationMessage[]): Promise<void> {
  let chunk: MessageSendRequest<NotificationMessage>[] = [];
  let bytes = 0;
  for (const body of messages) {
    const size = JSON.stringify(body).length + 100;
    if (chunk.length && (chunk.length === MAX_MESSAGES_PER_SEND || bytes + size > MAX_BYTES_PER_SEND)) {
      await env.NOTIFICATIONS_QUEUE.sendBatch(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push({ body, contentType: "json" });
    bytes += size;
  }
  if (chunk.length) await env.NOTIFICATIONS_QUEUE.sendBatch(chunk);
}
