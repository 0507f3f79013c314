// Pacing after 429: the engine as a whole slows to the rate that gets through, instead of every
// message backing off on its own while the sender keeps offering more than the limit.
import { describe, expect, it } from '@jest/globals';
import { TransportError, type Transport } from '../../../src/management/transport.ts';
import { deliver } from '../../../src/outbox/deliver.ts';
import { Pacer } from '../../../src/outbox/pacer.ts';
import type { Task } from '../../../src/outbox/recipients.ts';

describe('Pacer', () => {
  it('does not pace before the first 429', () => {
    const pacer = new Pacer();
    for (let t = 0; t < 100; t++) expect(pacer.delay(t)).toBe(0);
    expect(pacer.rate(100)).toBeUndefined();
  });

  it('at a 429, paces at just under the rate that was getting through, then grows 10 % per 100 ms', () => {
    const pacer = new Pacer();
    for (let t = 0; t < 300; t++) pacer.passed(t); // 1,000 requests/s get through
    pacer.throttled(300);
    expect(pacer.rate(300)).toBeCloseTo(950, -1);
    // Slots 1/950 s apart: the tenth request waits ~9.5 ms.
    let wait = 0;
    for (let i = 0; i < 10; i++) wait = pacer.delay(300);
    expect(wait).toBeCloseTo(9 * (1000 / 950), 0);
    expect(pacer.rate(400)! / pacer.rate(300)!).toBeCloseTo(1.1, 5);
    expect(pacer.rate(1300)! / pacer.rate(300)!).toBeCloseTo(1.1 ** 10, 3);
  });

  it('ignores 429s for requests sent before the pace was set, resets it from what got through for later ones, and lets go once it has grown past any rate', () => {
    const pacer = new Pacer();
    for (let t = 0; t < 300; t++) pacer.passed(t);
    pacer.throttled(300, 290);
    const first = pacer.rate(300)!;
    pacer.throttled(350, 299); // sent before the pace was set: already accounted for
    expect(pacer.rate(350)).toBeCloseTo(first * 1.1 ** 0.5, 5);
    for (let t = 300; t < 360; t++) pacer.passed(t); // still 1,000/s getting through
    pacer.throttled(360, 310); // sent at the new pace and still refused: set again from what got through
    expect(pacer.rate(360)).toBeCloseTo(950, 5);
    expect(pacer.rate(360)).toBeLessThan(first * 1.1 ** 0.6);
    for (let t = 360; t < 600; t += 2) pacer.passed(t); // 500/s got through meanwhile
    pacer.throttled(600, 590);
    // The last 300 ms let 60 + 120 requests through: 600/s, paced at 95 % of that.
    expect(pacer.rate(600)).toBeCloseTo(570, 0);
    // 100,000/s is past anything one sender reaches: not paced any more.
    expect(pacer.rate(600 + 6000)).toBeUndefined();
    expect(pacer.delay(600 + 6000)).toBe(0);
  });

  it('never paces below 50 requests/s (one slow client answering 429 must not stall a fan-out)', () => {
    const pacer = new Pacer();
    pacer.throttled(0);
    expect(pacer.rate(0)).toBe(50);
  });
});

/** A @connections API that admits `rate` requests/s (a token bucket, burst rate/10) and answers 429 to the rest. */
const limitedTransport = (rate: number) => {
  let tokens = rate / 10;
  let at = performance.now();
  const stats = { admitted: 0, throttled: 0 };
  const transport: Transport = {
    post: async () => {
      await new Promise((resolve) => setImmediate(resolve));
      const now = performance.now();
      tokens = Math.min(rate / 10, tokens + ((now - at) * rate) / 1000);
      at = now;
      if (tokens < 1) {
        stats.throttled++;
        throw new TransportError({ kind: 'throttled', status: 429, name: 'LimitExceededException', message: 'Too Many Requests' });
      }
      tokens--;
      stats.admitted++;
    },
    delete: async () => undefined,
    destroy: () => undefined,
  };
  return { transport, stats };
};

async function* tasks(n: number, prefix: string): AsyncGenerator<Task> {
  for (let i = 0; i < n; i++) yield { op: 'post', id: `${prefix}${i}`, payload: new Uint8Array([1]) };
}

const run = (transport: Transport, n: number, prefix: string, pacer: Pacer | undefined) =>
  deliver(tasks(n, prefix), {
    transport,
    pacer,
    concurrency: 50,
    maxAttempts: 4,
    requestTimeoutMs: 1000,
    deadline: Date.now() + 20_000,
    hardDeadline: Date.now() + 21_000,
    backoff: { baseMs: 50, throttledBaseMs: 200, capMs: 2000 },
  });

describe('deliver, paced, against a rate limit', () => {
  it('four senders sharing a 1,000/s limit deliver everything; without pacing they lose messages to 429s', async () => {
    const paced = limitedTransport(1000);
    const withPacing = await Promise.all([0, 1, 2, 3].map((s) => run(paced.transport, 500, `p${s}-`, new Pacer())));
    const unpaced = limitedTransport(1000);
    const without = await Promise.all([0, 1, 2, 3].map((s) => run(unpaced.transport, 500, `u${s}-`, undefined)));

    const failed = (outcomes: typeof withPacing) => outcomes.reduce((n, o) => n + o.failed.length, 0);
    // Unpaced, ~2 % of the messages fail after 4 attempts, all 429. Paced, none or nearly: the
    // 429s met before a sender had measured its share do not use up attempts.
    expect(failed(without)).toBeGreaterThan(10);
    expect(failed(withPacing) * 5).toBeLessThan(failed(without));
    expect(withPacing.reduce((n, o) => n + o.sent, 0) + failed(withPacing)).toBe(2000);
    // A 429 costs a request too: pacing wastes far fewer of them.
    expect(paced.stats.throttled).toBeLessThan(unpaced.stats.throttled / 3);
  }, 30_000);
});

describe('deliver, paced, one connection that keeps answering 429 (its buffer is full)', () => {
  it('still fails it after maxAttempts, as throttled, and delivers the rest', async () => {
    const refused: number[] = [];
    const transport: Transport = {
      post: async (id) => {
        await new Promise((resolve) => setImmediate(resolve));
        if (id === 'stuck') {
          refused.push(Date.now());
          throw new TransportError({ kind: 'throttled', status: 429, name: 'LimitExceededException', message: 'Too Many Requests' });
        }
      },
      delete: async () => undefined,
      destroy: () => undefined,
    };
    async function* some(): AsyncGenerator<Task> {
      yield { op: 'post', id: 'stuck', payload: new Uint8Array([1]) };
      for (let i = 0; i < 50; i++) yield { op: 'post', id: `ok${i}`, payload: new Uint8Array([1]) };
    }
    const outcome = await deliver(some(), {
      transport,
      pacer: new Pacer(),
      concurrency: 10,
      maxAttempts: 3,
      requestTimeoutMs: 1000,
      deadline: Date.now() + 10_000,
      hardDeadline: Date.now() + 11_000,
      backoff: { baseMs: 5, throttledBaseMs: 20, capMs: 100 },
    });
    expect(outcome.sent).toBe(50);
    expect(outcome.failed).toEqual([{ connectionId: 'stuck', reason: 'throttled', status: 429, error: 'LimitExceededException' }]);
    expect(refused).toHaveLength(3);
  });
});
