import type { Transport } from '../management/transport.ts';

/**
 * Paces requests to one @connections endpoint once it has answered 429. API Gateway's account
 * limit is a token bucket shared by every function of the account (and by the fan-out workers of
 * one broadcast): past it, every request over the rate costs a round trip (signing, TLS, a 429)
 * and, after maxAttempts, a message. Backoff per message alone lets N senders keep offering N
 * times the rate; here the sender as a whole slows down.
 *
 * Until the first 429 nothing is paced. At a 429, requests are paced at the rate that was getting
 * through just before it (measured over the last 300 ms), a little under it: that is this
 * sender's share of the limit, whoever else shares it. Without a 429 the pace grows 10 % every
 * 100 ms, so it soon probes past the share again (the bucket's burst absorbs the overshoot) and
 * takes up capacity others leave, as when the other workers of a fan-out finish. A 429 for a
 * request sent before the pace was last set is old news (the pace already reacted to it); one
 * for a request sent after it sets the pace again, from what got through since. Once the pace has
 * grown past any rate the sender could reach, pacing stops.
 */
export interface PacerOptions {
  /** The pace set at a 429, as a share of the rate measured just before it. */
  start: number;
  /** Growth per growEveryMs without a 429. */
  growth: number;
  growEveryMs: number;
  /** Requests/s: never paced slower (one slow client's 429s must not stall a whole fan-out). */
  minRate: number;
  /** Requests/s: paced faster than this means not paced. */
  maxRate: number;
  /** The window over which the rate getting through is measured. */
  measureMs: number;
}

export const pacerDefaults: PacerOptions = {
  start: 0.95,
  growth: 1.1,
  growEveryMs: 100,
  minRate: 50,
  maxRate: 100_000,
  measureMs: 300,
};

/** A gap this long between two requests that got through is a pause, not a rate. */
const idleMs = 100;

export class Pacer {
  readonly #options: PacerOptions;
  /** Requests/s at #since; undefined while not pacing. */
  #rate: number | undefined;
  #since = 0;
  #lastCut = -Infinity;
  /** When the next request may start (epoch ms). */
  #next = 0;
  // Completions in the current and the previous measuring window.
  #window = { start: 0, count: 0, previous: 0 };
  #firstAt: number | undefined;
  #lastPassed: number | undefined;
  /** The last 429 that did not set the pace: one connection's, waiting for a second one to confirm. */
  #lone: { id: string; at: number } | undefined;

  constructor(options: Partial<PacerOptions> = {}) {
    this.#options = { ...pacerDefaults, ...options };
  }

  /** Requests/s it paces at now, or undefined. */
  rate(now: number): number | undefined {
    if (this.#rate === undefined) return undefined;
    const { growth, growEveryMs, maxRate } = this.#options;
    const rate = this.#rate * growth ** ((now - this.#since) / growEveryMs);
    if (rate > maxRate) {
      this.#rate = undefined;
      return undefined;
    }
    return rate;
  }

  /** Reserves the next slot; resolves to how long to wait for it (0: go now). */
  delay(now: number): number {
    const rate = this.rate(now);
    if (rate === undefined) return 0;
    const slot = Math.max(now, this.#next);
    this.#next = slot + 1000 / rate;
    return slot - now;
  }

  /** A request got through. */
  passed(now: number): void {
    const { measureMs } = this.#options;
    const w = this.#window;
    // After a pause (between two invocations of a warm function, say) the rate is measured anew:
    // the idle time says nothing about what gets through.
    if (this.#lastPassed !== undefined && now - this.#lastPassed > idleMs) {
      w.start = now;
      w.count = 0;
      w.previous = 0;
      this.#firstAt = now;
    }
    this.#lastPassed = now;
    if (now - w.start >= measureMs) {
      // A window that ended long ago says nothing about now.
      w.previous = now - w.start >= 2 * measureMs ? 0 : w.count;
      w.start = now;
      w.count = 0;
    }
    w.count++;
    this.#firstAt ??= now;
  }

  /**
   * A request sent at `sentAt` was answered 429 at `now`. Returns false when that is old news: the
   * request left before the pace was last set, so the pace has already answered it.
   *
   * Given the `connectionId`, a 429 sets the pace only when another connection also answered 429
   * within measureMs: the account's limit refuses requests whoever they are for, while a client
   * that does not read makes only its own connection answer 429, and must not slow the others.
   */
  throttled(now: number, sentAt: number = now, connectionId?: string): boolean {
    const { start, minRate, measureMs } = this.#options;
    if (sentAt < this.#lastCut) return false;
    if (connectionId !== undefined) {
      const lone = this.#lone;
      if (lone === undefined || lone.id === connectionId || now - lone.at > measureMs) {
        this.#lone = { id: connectionId, at: now };
        return true;
      }
      this.#lone = undefined;
    }
    this.#rate = Math.max(minRate, this.#measured(now) * start);
    this.#since = now;
    this.#lastCut = now;
    return true;
  }

  /** Requests/s that got through over the last measureMs (or since the first one, if later). */
  #measured(now: number): number {
    const { measureMs } = this.#options;
    const w = this.#window;
    if (this.#firstAt === undefined || now - w.start >= 2 * measureMs) return 0;
    const current = Math.max(0, now - w.start);
    const previous = w.previous === 0 ? 0 : Math.max(0, measureMs - current);
    const span = Math.max(1, Math.min(current + previous, now - this.#firstAt));
    const count = w.count + (previous === 0 ? 0 : (w.previous * previous) / measureMs);
    return (count * 1000) / span;
  }
}

// One pacer per transport, and transports are cached per endpoint (clients.ts): warm invocations
// of a function share what the last one learned about the limit.
const pacers = new WeakMap<Transport, Pacer>();

export const pacerFor = (transport: Transport): Pacer => {
  let pacer = pacers.get(transport);
  if (pacer === undefined) pacers.set(transport, (pacer = new Pacer()));
  return pacer;
};
