/**
 * Runs async steps one after another. A Durable Object's input gates let the next request in at
 * every awaited I/O (D1, crypto.subtle), so a step that reads, decides and writes must queue behind
 * the previous one instead of interleaving with it.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(step: () => Promise<T>): Promise<T> {
    const result = this.tail.then(step);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
