// A client that stops reading: API Gateway answers 429 for its connection only. The engine gives
// up on it for the flush (reason `stalled`) instead of retrying it until the invocation's end, its
// 429s do not slow the pace for everyone, and the instance remembers it for the next flushes.
import { describe, expect, it } from '@jest/globals';
import { TransportError, type Transport } from '../../../src/management/transport.ts';
import { deliver } from '../../../src/outbox/deliver.ts';
import { Pacer } from '../../../src/outbox/pacer.ts';
import type { Task } from '../../../src/outbox/recipients.ts';
import { StalledClients } from '../../../src/outbox/stalled.ts';

const tooManyRequests = () => new TransportError({ kind: 'throttled', status: 429, name: 'LimitExceededException', message: 'Too Many Requests' });

/** Answers 200 on the next turn, or 429 to a post `refuses` picks; records every request. */
const refusingTransport = (refuses: (id: string) => boolean) => {
  const requests: { op: 'post' | 'delete'; id: string }[] = [];
  const transport: Transport = {
    post: async (id) => {
      requests.push({ op: 'post', id });
      await new Promise((resolve) => setImmediate(resolve));
      if (refuses(id)) throw tooManyRequests();
    },
    delete: async (id) => {
      requests.push({ op: 'delete', id });
    },
    destroy: () => undefined,
  };
  return { transport, requests };
};

/** Every connection answers 200 at once, except `stuck`, which answers 429 (its buffer is full). */
const stuckTransport = () => {
  const { transport, requests } = refusingTransport((id) => id === 'stuck');
  return { transport, requests, toStuck: () => requests.filter((r) => r.op === 'post' && r.id === 'stuck').length };
};

/** `messages` messages to a room of `stuck` and 20 readers, in order. */
async function* room(messages: number): AsyncGenerator<Task> {
  for (let m = 0; m < messages; m++) {
    yield { op: 'post', id: 'stuck', payload: new Uint8Array([m]) };
    for (let i = 0; i < 20; i++) yield { op: 'post', id: `ok${i}`, payload: new Uint8Array([m]) };
  }
}

// The outbox's defaults: 4 attempts, a first 429 backoff of up to 200 ms.
const run = (transport: Transport, stalled: StalledClients | undefined, pacer: Pacer, disconnectStalled = false) =>
  deliver(room(5), {
    transport,
    pacer,
    stalled,
    disconnectStalled,
    concurrency: 10,
    maxAttempts: 4,
    requestTimeoutMs: 1000,
    deadline: Date.now() + 10_000,
    hardDeadline: Date.now() + 11_000,
    backoff: { baseMs: 50, throttledBaseMs: 200, capMs: 2000 },
  });

describe('a connection that keeps answering 429 while others get through', () => {
  it('is given up for the flush as `stalled`, with no retry that holds it, and its 429s do not set the pace', async () => {
    const { transport, toStuck } = stuckTransport();
    const pacer = new Pacer();
    const started = performance.now();
    const out = await run(transport, new StalledClients(), pacer);
    const tookMs = performance.now() - started;
    expect(out.sent).toBe(100);
    // Its five messages: the first given up, the other four failed without a request (order kept).
    expect(out.failed).toEqual(Array.from({ length: 5 }, () => ({ connectionId: 'stuck', reason: 'stalled', status: 429, error: 'LimitExceededException' })));
    // A few attempts over ~200 ms (backoff jitter), never the four attempts and ~1.4 s of backoff of a throttle.
    expect(toStuck()).toBeLessThanOrEqual(4);
    expect(tookMs).toBeLessThan(1_500);
    expect(pacer.rate(Date.now())).toBeUndefined();
  });

  it('in a small room whose others were all served before its first 429, it is still found stalled, and remembered', async () => {
    let toStuck = 0;
    const transport: Transport = {
      post: async (id) => {
        await new Promise((resolve) => setImmediate(resolve));
        if (id !== 'stuck') return;
        toStuck++;
        // Answered after the others: nothing else passes in this flush after its first 429.
        await new Promise((resolve) => setTimeout(resolve, 5));
        throw new TransportError({ kind: 'throttled', status: 429, name: 'LimitExceededException', message: 'Too Many Requests' });
      },
      delete: async () => undefined,
      destroy: () => undefined,
    };
    async function* small(): AsyncGenerator<Task> {
      for (const id of ['stuck', 'a', 'b', 'c']) yield { op: 'post', id, payload: new Uint8Array([1]) };
    }
    const stalled = new StalledClients(30_000, 0);
    const options = {
      transport,
      pacer: new Pacer(),
      stalled,
      concurrency: 10,
      maxAttempts: 4,
      requestTimeoutMs: 1000,
      deadline: Date.now() + 10_000,
      hardDeadline: Date.now() + 11_000,
      backoff: { baseMs: 50, throttledBaseMs: 200, capMs: 2000 },
    };
    const first = await deliver(small(), options);
    expect(first.failed).toEqual([{ connectionId: 'stuck', reason: 'stalled', status: 429, error: 'LimitExceededException' }]);
    expect(stalled.has('stuck', Date.now())).toBe(true);
    const before = toStuck;
    const started = performance.now();
    await deliver(small(), { ...options, deadline: Date.now() + 10_000, hardDeadline: Date.now() + 11_000 });
    expect(toStuck - before).toBe(1);
    expect(performance.now() - started).toBeLessThan(1_000); // no backoff: the counts above are the real check
  });

  it('the next flushes of the instance send it nothing for a while, then one request, no retry; a request that gets through forgets it', async () => {
    const { transport, toStuck } = stuckTransport();
    const stalled = new StalledClients(30_000, 300);
    await run(transport, stalled, new Pacer());
    let before = toStuck();
    const quiet = await run(transport, stalled, new Pacer());
    expect(toStuck() - before).toBe(0);
    expect(quiet.failed.map((f) => f.reason)).toEqual(['stalled', 'stalled', 'stalled', 'stalled', 'stalled']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    before = toStuck();
    const started = performance.now();
    const out = await run(transport, stalled, new Pacer());
    expect(toStuck() - before).toBe(1);
    expect(out.failed.map((f) => f.reason)).toEqual(['stalled', 'stalled', 'stalled', 'stalled', 'stalled']);
    expect(performance.now() - started).toBeLessThan(1_000); // no backoff: the counts above are the real check
    // It reads again: the first request that gets through forgets it.
    expect(stalled.has('stuck', Date.now())).toBe(true);
    const reading = await deliver(
      (async function* () {
        yield { op: 'post' as const, id: 'stuck-reading', payload: new Uint8Array([1]) };
      })(),
      {
        transport,
        stalled,
        concurrency: 1,
        maxAttempts: 1,
        requestTimeoutMs: 100,
        deadline: Date.now() + 1000,
        hardDeadline: Date.now() + 1100,
        backoff: { baseMs: 1, throttledBaseMs: 1, capMs: 1 },
      },
    );
    expect(reading.sent).toBe(1);
    stalled.add('stuck-reading', Date.now());
    stalled.forget('stuck-reading');
    expect(stalled.has('stuck-reading', Date.now())).toBe(false);
  });

  it('disconnectStalled: it is closed (DeleteConnection) once, and listed as closed for the prune', async () => {
    const { transport, requests } = stuckTransport();
    const out = await run(transport, new StalledClients(), new Pacer(), true);
    expect(requests.filter((r) => r.op === 'delete')).toEqual([{ op: 'delete', id: 'stuck' }]);
    expect(out.closed).toEqual(['stuck']);
  });

  it('a connection throttled briefly (the account limit) is still retried and delivered, not taken for stalled', async () => {
    let refusals = 0;
    const { transport } = refusingTransport((id) => id === 'busy' && refusals++ < 2);
    async function* some(): AsyncGenerator<Task> {
      yield { op: 'post', id: 'busy', payload: new Uint8Array([1]) };
      for (let i = 0; i < 20; i++) yield { op: 'post', id: `ok${i}`, payload: new Uint8Array([1]) };
    }
    const out = await deliver(some(), {
      transport,
      pacer: new Pacer(),
      stalled: new StalledClients(),
      concurrency: 5,
      maxAttempts: 4,
      requestTimeoutMs: 1000,
      deadline: Date.now() + 5_000,
      hardDeadline: Date.now() + 6_000,
      backoff: { baseMs: 5, throttledBaseMs: 10, capMs: 50 },
    });
    expect(out).toMatchObject({ sent: 21, failed: [] });
  });
});

describe('an account-wide throttle (429s on many connections at once)', () => {
  // Every request is refused with odds `share` whoever it is for (the token bucket is empty at
  // that moment); `stuck` refuses every request. Seeded, so a failure replays.
  const seeded = (seed: number) => () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const throttling = (share: number, seed: number) => {
    const random = seeded(seed);
    return refusingTransport((id) => id === 'stuck' || random() < share).transport;
  };
  async function* everyone(n: number, withStuck: boolean): AsyncGenerator<Task> {
    if (withStuck) yield { op: 'post', id: 'stuck', payload: new Uint8Array([1]) };
    for (let i = 0; i < n; i++) yield { op: 'post', id: `c${i}`, payload: new Uint8Array([1]) };
  }
  const options = (transport: Transport) => ({
    transport,
    stalled: new StalledClients(),
    concurrency: 50,
    maxAttempts: 6,
    requestTimeoutMs: 1000,
    // Retries late enough that a connection's third attempt comes after stallAfterMs.
    deadline: Date.now() + 20_000,
    hardDeadline: Date.now() + 21_000,
    backoff: { baseMs: 100, throttledBaseMs: 150, capMs: 150 },
    random: () => 1,
  });

  it('a tenth of all requests refused: nobody is taken for stalled, everyone gets it', async () => {
    const out = await deliver(everyone(2_000, false), options(throttling(0.1, 7)));
    expect(out.failed).toEqual([]);
    expect(out.sent).toBe(2_000);
  });

  it('a stuck connection among them is still given up as stalled, at its last attempt at the latest', async () => {
    const out = await deliver(everyone(2_000, true), options(throttling(0.1, 11)));
    expect(out.failed).toEqual([{ connectionId: 'stuck', reason: 'stalled', status: 429, error: 'LimitExceededException' }]);
    expect(out.sent).toBe(2_000);
  });
});

describe('Pacer, told which connection answered 429', () => {
  it('sets the pace when two connections answer 429 within its window, not for one connection alone', () => {
    const pacer = new Pacer();
    for (let t = 0; t < 300; t++) pacer.passed(t);
    pacer.throttled(300, 300, 'stuck');
    pacer.throttled(320, 320, 'stuck');
    expect(pacer.rate(330)).toBeUndefined();
    pacer.throttled(340, 340, 'other');
    expect(pacer.rate(340)).toBeGreaterThan(500);
  });
});
