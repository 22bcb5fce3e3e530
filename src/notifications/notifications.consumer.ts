import type { Env } from "../env";
import { log } from "../lib/log";
import type { NotificationMessage } from "../lib/messages";
import { type DeliveryMessage, deliverMessages, markDeliveriesFailed } from "./delivery";
import { type EventMessage, fanOut } from "./fanout";

/** One queue carries both kinds: compact events (fanned out) and per-destination deliveries. */
function split(batch: MessageBatch<NotificationMessage>) {
  const events: Message<EventMessage>[] = [];
  const deliveries: Message<DeliveryMessage>[] = [];
  for (const message of batch.messages) {
    if (message.body?.kind === "event") events.push(message as Message<EventMessage>);
    else if (message.body?.kind === "delivery") deliveries.push(message as Message<DeliveryMessage>);
    else {
      log("error", "dropping unknown notification message", { body: JSON.stringify(message.body).slice(0, 500) });
      message.ack();
    }
  }
  return { events, deliveries };
}

export async function consumeNotifications(batch: MessageBatch<NotificationMessage>, env: Env): Promise<void> {
  const { events, deliveries } = split(batch);
  await Promise.all([fanOut(events, env), deliverMessages(deliveries, env)]);
}

/**
 * Dead letters: deliveries whose messages kept failing before any decision become `failed`. An
 * event whose fan-out kept failing for the whole schedule is logged with its id; it is still in its
 * outbox row, which the outbox sweep republishes later.
 */
export async function consumeNotificationsDeadLetters(batch: MessageBatch<NotificationMessage>, env: Env): Promise<void> {
  const { events, deliveries } = split(batch);
  for (const message of events) {
    log("error", "notification event dead-lettered", { event_id: message.body.event.id, event: message.body.event.type });
    message.ack();
  }
  await markDeliveriesFailed(deliveries, env);
}
