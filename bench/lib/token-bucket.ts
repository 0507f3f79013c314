// API Gateway's account-level throttle is a token bucket: `rate` tokens a second, at most `burst`
// saved up. A request that finds a token goes through and takes it; one that finds none is
// answered 429 and takes nothing. The @connections stand-in (sink.ts) answers with it, and the
// 1,000,000-recipient simulation (fanout-sim.ts) charges its sends to the same accounting.

export interface BucketConfig {
  /** Tokens per second; 0 = no limit. */
  rate: number;
  /** Tokens the bucket holds at most (the burst); defaults to a tenth of a second's worth. */
  burst?: number;
}

export class TokenBucket {
  readonly rate: number;
  readonly burst: number;
  #tokens: number;
  #at: number;
  admitted = 0;
  refused = 0;
  /** Time of the first and the last admitted request (ms, the clock given to take()). */
  firstAt: number | undefined;
  lastAt: number | undefined;

  constructor(config: BucketConfig, now: number) {
    this.rate = config.rate;
    this.burst = config.burst ?? Math.max(1, Math.round(config.rate / 10));
    this.#tokens = this.burst;
    this.#at = now;
  }

  /** True when a request at `now` (ms) gets through. */
  take(now: number): boolean {
    if (this.rate <= 0) return this.#admit(now);
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) * this.rate) / 1000);
    this.#at = now;
    if (this.#tokens < 1) {
      this.refused++;
      return false;
    }
    this.#tokens -= 1;
    return this.#admit(now);
  }

  /** The earliest time (ms, >= now) at which a request would get through, without taking anything. */
  nextAt(now: number): number {
    if (this.rate <= 0) return now;
    const tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) * this.rate) / 1000);
    return tokens >= 1 ? now : now + ((1 - tokens) * 1000) / this.rate;
  }

  #admit(now: number): boolean {
    this.admitted++;
    this.firstAt ??= now;
    this.lastAt = now;
    return true;
  }
}
