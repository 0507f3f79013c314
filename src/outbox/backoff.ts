export interface BackoffOptions {
  /** First retry waits up to this long (5xx, network, timeout). */
  baseMs: number;
  /** First retry after a 429 waits up to this long: throttling needs room to drain. */
  throttledBaseMs: number;
  /** No single wait is longer. */
  capMs: number;
  /** After a 429, pace all requests to the endpoint at the rate that gets through (pacer.ts). Default true. */
  pace?: boolean;
}

/**
 * "Full jitter" exponential backoff: a uniform random wait in [0, min(cap, base·2^(n-1))].
 * Jitter spreads retries of a broadcast so that they do not hit the rate limit again in lockstep.
 */
export const backoffDelay = (attempt: number, throttled: boolean, options: BackoffOptions, random: () => number = Math.random): number => {
  const base = throttled ? options.throttledBaseMs : options.baseMs;
  const ceiling = Math.min(options.capMs, base * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
};

/** A wait that the engine and the store's batch retries share (tests inject their own). */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
