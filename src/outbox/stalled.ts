import type { Transport } from '../management/transport.ts';

/** A connection still answering 429 this long after its first one, while others got through, may be stalled. */
export const stallAfterMs = 200;

/**
 * How unlikely a connection's run of 429s must be, were they the account's limit, before it is
 * called stalled. An account-level 429 falls on whichever request finds the token bucket empty:
 * with a share f of the others' requests refused as well, n refusals in a row happen with odds
 * of about f^n. At 1e-6, a fan-out to 10,000 connections under a throttle that refuses one
 * request in ten (the quick fan-out bench) gives up none of them wrongly; a connection alone in
 * answering 429 (f = 0) is stalled at its third attempt.
 */
export const stallOdds = 1e-6;

/** A connection's first 429 in a flush: when it came, and the flush's counts when its request left. */
export interface FirstThrottle {
  at: number;
  passes: number;
  throttledConnections: number;
}

/** The flush's counts now. */
export interface ThrottleCounts {
  now: number;
  maxAttempts: number;
  /** Requests that got through so far. */
  passes: number;
  /** Connections that got a 429 so far (each counted once, at its first: a stalled client's own retries say nothing about the account). */
  throttledConnections: number;
}

/**
 * True when a connection's n-th 429 in a row cannot be the account's rate limit: others' requests
 * got through since its first request left, and so few of the others were refused over that
 * window that n refusals in a row by chance are less likely than stallOdds. Asked at its third
 * attempt once stallAfterMs has passed (a brief account-level throttle, twice say, is retried as
 * before), or at its last attempt.
 */
export const isStalled = (first: FirstThrottle, n: number, counts: ThrottleCounts): boolean => {
  if (!((n >= 3 && counts.now - first.at >= stallAfterMs) || n >= counts.maxAttempts)) return false;
  const passed = counts.passes - first.passes;
  if (passed <= 0) return false;
  // Its own first 429 was counted after its request left.
  const refused = counts.throttledConnections - first.throttledConnections - 1;
  const share = refused / (passed + refused);
  return share ** n <= stallOdds;
};

/**
 * Connections whose client has stopped reading. API Gateway answers 429 LimitExceededException
 * both when the account's rate limit is reached and when one connection cannot take more (its
 * outbound buffer is full). Retrying the second kind only holds the invocation: the client is not
 * going to read within it, and every message behind it in the flush, and every invocation queued
 * behind this instance, waits too. So a connection whose 429s cannot be the account's limit
 * (isStalled: it keeps answering 429 while the others' requests pass) is **stalled**: the engine
 * gives up on it for the flush (reason `stalled`, no more retries, its 429s do not slow the
 * pace), and remembers it here for `memoryMs`. The next flushes of this instance send it nothing
 * for `probeEveryMs` (each 429 is a request against the account's rate limit too), then one
 * request with no retry, and so on. A request to it that gets through forgets it at once.
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
