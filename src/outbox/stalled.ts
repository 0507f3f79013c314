import type { Transport } from '../management/transport.ts';

/** A connection still answering 429 this long after its first one, while others got through, is stalled. */
export const stallAfterMs = 200;

/**
 * Connections whose client has stopped reading. API Gateway answers 429 LimitExceededException
 * both when the account's rate limit is reached and when one connection cannot take more (its
 * outbound buffer is full). Retrying the second kind only holds the invocation: the client is not
 * going to read within it, and every message behind it in the flush, and every invocation queued
 * behind this instance, waits too. So a connection that still answers 429 stallAfterMs after its
 * first 429, while other requests to the same endpoint got through meanwhile, is **stalled**
 * (an account-level 429 is gone by then: the pace was cut, and the others' requests pass): the engine gives up on it for
 * the flush (reason `stalled`, no more retries, its 429s do not slow the pace), and remembers it
 * here for `memoryMs`, so that the next flushes of this instance give it one attempt and no retry.
 * A request to it that gets through forgets it at once.
 */
export class StalledClients {
  readonly #until = new Map<string, number>();
  readonly #memoryMs: number;
  readonly #max: number;

  constructor(memoryMs = 30_000, max = 10_000) {
    this.#memoryMs = memoryMs;
    this.#max = max;
  }

  has(connectionId: string, now: number): boolean {
    const until = this.#until.get(connectionId);
    if (until === undefined) return false;
    if (until > now) return true;
    this.#until.delete(connectionId);
    return false;
  }

  add(connectionId: string, now: number): void {
    this.#until.delete(connectionId);
    // Bounded: the oldest entry goes first (a Map iterates in insertion order).
    if (this.#until.size >= this.#max) this.#until.delete(this.#until.keys().next().value!);
    this.#until.set(connectionId, now + this.#memoryMs);
  }

  forget(connectionId: string): void {
    this.#until.delete(connectionId);
  }
}

// One memory per transport, and transports are cached per endpoint (clients.ts), like the pacer.
const memories = new WeakMap<Transport, StalledClients>();

export const stalledClientsFor = (transport: Transport): StalledClients => {
  let memory = memories.get(transport);
  if (memory === undefined) memories.set(transport, (memory = new StalledClients()));
  return memory;
};
