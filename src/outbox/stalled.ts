import type { Transport } from '../management/transport.ts';

/** A connection still answering 429 this long after its first one, while others got through, is stalled. */
export const stallAfterMs = 200;

/**
 * Connections whose client has stopped reading. API Gateway answers 429 LimitExceededException
 * both when the account's rate limit is reached and when one connection cannot take more (its
 * outbound buffer is full). Retrying the second kind only holds the invocation: the client is not
 * going to read within it, and every message behind it in the flush, and every invocation queued
 * behind this instance, waits too. So a connection that still answers 429 at its third attempt,
 * stallAfterMs after its first 429 (or at its last attempt), while other requests to the same endpoint got through since
 * its first request left, is **stalled** (an account-level 429 is gone by then: the pace was cut,
 * and the others' requests pass): the engine gives up on it for the flush (reason `stalled`, no
 * more retries, its 429s do not slow the pace), and remembers it here for `memoryMs`. The next
 * flushes of this instance send it nothing for `probeEveryMs` (each 429 is a request against the
 * account's rate limit too), then one request with no retry, and so on. A request to it that gets
 * through forgets it at once.
 */
export class StalledClients {
  readonly #entries = new Map<string, { until: number; probeAt: number }>();
  readonly #memoryMs: number;
  readonly #probeEveryMs: number;
  readonly #max: number;

  constructor(memoryMs = 30_000, probeEveryMs = 1_000, max = 10_000) {
    this.#memoryMs = memoryMs;
    this.#probeEveryMs = probeEveryMs;
    this.#max = max;
  }

  #live(connectionId: string, now: number) {
    const entry = this.#entries.get(connectionId);
    if (entry === undefined || entry.until > now) return entry;
    this.#entries.delete(connectionId);
    return undefined;
  }

  /** Found stalled lately: a 429 from it is given up at once. */
  has(connectionId: string, now: number): boolean {
    return this.#live(connectionId, now) !== undefined;
  }

  /** Found stalled so lately that no request is sent to it now. */
  skips(connectionId: string, now: number): boolean {
    const entry = this.#live(connectionId, now);
    return entry !== undefined && now < entry.probeAt;
  }

  add(connectionId: string, now: number): void {
    this.#entries.delete(connectionId);
    // Bounded: the oldest entry goes first (a Map iterates in insertion order).
    if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(connectionId, { until: now + this.#memoryMs, probeAt: now + this.#probeEveryMs });
  }

  forget(connectionId: string): void {
    this.#entries.delete(connectionId);
  }
}

// One memory per transport, and transports are cached per endpoint (clients.ts), like the pacer.
const memories = new WeakMap<Transport, StalledClients>();

export const stalledClientsFor = (transport: Transport): StalledClients => {
  let memory = memories.get(transport);
  if (memory === undefined) memories.set(transport, (memory = new StalledClients()));
  return memory;
};
