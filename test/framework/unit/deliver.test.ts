import { describe, expect, it } from '@jest/globals';
import { deliver, type DeliverOptions } from '../../../src/outbox/deliver.ts';
import type { Task } from '../../../src/outbox/recipients.ts';
import { scriptedTransport, type Outcome } from '../../helpers/recording-transport.ts';

const payload = new TextEncoder().encode('hi');
async function* postsTo(ids: string[]): AsyncGenerator<Task> {
  for (const id of ids) yield { op: 'post', id, payload };
}

const options = (over: Partial<DeliverOptions> & Pick<DeliverOptions, 'transport'>): DeliverOptions => ({
  concurrency: 8,
  maxAttempts: 4,
  requestTimeoutMs: 200,
  deadline: Date.now() + 10_000,
  hardDeadline: Date.now() + 10_250,
  backoff: { baseMs: 1, throttledBaseMs: 2, capMs: 5 },
  ...over,
});

const invariant = (o: { queued: number; sent: number; gone: string[]; failed: unknown[] }) => expect(o.sent + o.gone.length + o.failed.length).toBe(o.queued);

describe('deliver', () => {
  it('classifies each outcome: 410 gone, 429 then success, persistent 500, 403, 413, timeout', async () => {
    const plan: Record<string, (attempt: number) => Outcome> = {
      ok: () => 'ok',
      gone: () => 'gone',
      throttledTwice: (n) => (n <= 2 ? 'throttled' : 'ok'),
      broken: () => 'server',
      forbidden: () => 'forbidden',
      big: () => 'too-large',
      hung: () => 'hang',
    };
    const t = scriptedTransport((id, n) => plan[id]!(n));
    const out = await deliver(postsTo(Object.keys(plan)), options({ transport: t.transport, requestTimeoutMs: 50, maxAttempts: 3 }));
    expect(out.sent).toBe(2);
    expect(out.gone).toEqual(['gone']);
    const reasons = Object.fromEntries(out.failed.map((f) => [f.connectionId, [f.reason, f.status]]));
    expect(reasons).toEqual({
      broken: ['server', 500],
      forbidden: ['forbidden', 403],
      big: ['too-large', 413],
      hung: ['timeout', undefined],
    });
    // 429 and 500 and timeouts are retried; 410, 403 and 413 are final at once.
    expect(t.attempts.get('throttledTwice')).toBe(3);
    expect(t.attempts.get('broken')).toBe(3);
    expect(t.attempts.get('hung')).toBe(3);
    expect(t.attempts.get('gone')).toBe(1);
    expect(t.attempts.get('forbidden')).toBe(1);
    expect(t.attempts.get('big')).toBe(1);
    invariant(out);
  });

  it('never has more requests in flight than the concurrency', async () => {
    const t = scriptedTransport(() => 'ok');
    const ids = Array.from({ length: 500 }, (_, i) => `c${i}`);
    const out = await deliver(postsTo(ids), options({ transport: t.transport, concurrency: 7 }));
    expect(out.sent).toBe(500);
    expect(t.maxInFlight()).toBe(7);
  });

  it('pulls recipients lazily: never more drawn than finished plus the concurrency', async () => {
    let drawn = 0;
    let finished = 0;
    let maxAhead = 0;
    const t = scriptedTransport(() => 'ok');
    const transport = {
      ...t.transport,
      post: async (id: string, body: Uint8Array, signal: AbortSignal) => {
        await t.transport.post(id, body, signal);
        finished++;
      },
    };
    async function* counted(): AsyncGenerator<Task> {
      for (let i = 0; i < 1000; i++) {
        drawn++;
        maxAhead = Math.max(maxAhead, drawn - finished);
        yield { op: 'post', id: `c${i}`, payload };
      }
    }
    await deliver(counted(), options({ transport, concurrency: 10 }));
    expect(drawn).toBe(1000);
    // Memory follows the concurrency: tasks are drawn only when a worker is free to send them.
    expect(maxAhead).toBeLessThanOrEqual(10);
  });

  it('reports what is left at the deadline as failed (deadline), without hanging', async () => {
    const t = scriptedTransport(() => 'throttled');
    const started = Date.now();
    const out = await deliver(
      postsTo(Array.from({ length: 50 }, (_, i) => `c${i}`)),
      options({
        transport: t.transport,
        maxAttempts: 100,
        deadline: started + 150,
        hardDeadline: started + 200,
        backoff: { baseMs: 20, throttledBaseMs: 20, capMs: 40 },
      }),
    );
    expect(Date.now() - started).toBeLessThan(1500);
    expect(out.failed.length).toBe(50);
    expect(out.failed.every((f) => f.reason === 'deadline')).toBe(true);
    invariant(out);
  });

  it('caps a request hung past the deadline and calls it a deadline failure', async () => {
    const t = scriptedTransport(() => 'hang');
    const started = Date.now();
    const out = await deliver(postsTo(['a']), options({ transport: t.transport, requestTimeoutMs: 5000, deadline: started + 50, hardDeadline: started + 100 }));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(out.failed).toEqual([{ connectionId: 'a', reason: 'deadline' }]);
  });

  it('keeps per-connection order: a second message waits for the first', async () => {
    const order: string[] = [];
    const t = scriptedTransport(() => 'ok');
    const transport = {
      ...t.transport,
      post: async (id: string, body: Uint8Array, signal: AbortSignal) => {
        await new Promise((r) => setTimeout(r, new TextDecoder().decode(body) === '1' ? 30 : 1));
        order.push(`${id}:${new TextDecoder().decode(body)}`);
        return t.transport.post(id, body, signal);
      },
    };
    const enc = new TextEncoder();
    async function* tasks(): AsyncGenerator<Task> {
      yield { op: 'post', id: 'a', payload: enc.encode('1') };
      yield { op: 'post', id: 'a', payload: enc.encode('2') };
      yield { op: 'delete', id: 'a' };
    }
    const out = await deliver(tasks(), options({ transport }));
    expect(order).toEqual(['a:1', 'a:2']);
    expect(t.deletes).toEqual(['a']);
    expect(out.closed).toEqual(['a']);
    expect(out.sent).toBe(3);
  });
});

describe('deliver, gone connections', () => {
  it('asks once: later messages to a gone id in the same flush make no request', async () => {
    const t = scriptedTransport((id) => (id === 'g' ? 'gone' : 'ok'));
    async function* tasks(): AsyncGenerator<Task> {
      for (let i = 0; i < 3; i++) yield { op: 'post', id: 'g', payload: new Uint8Array([i]) };
    }
    const out = await deliver(tasks(), options({ transport: t.transport }));
    expect(t.posts).toHaveLength(1);
    expect(out.gone).toEqual(['g', 'g', 'g']);
    invariant(out);
  });
});

describe('deliver, chains to one connection', () => {
  it('a chain of messages to one connection does not hold a worker: the rest of the flush goes on', async () => {
    const starts: string[] = [];
    const transport = {
      post: async (id: string) => {
        starts.push(id);
        await new Promise((resolve) => setTimeout(resolve, 2));
      },
      delete: async () => undefined,
      destroy: () => undefined,
    };
    async function* tasks(): AsyncGenerator<Task> {
      // 150 replies to the caller, then a room of 10.
      for (let i = 0; i < 150; i++) yield { op: 'post', id: 'caller', payload: new Uint8Array([i]) };
      for (let i = 0; i < 10; i++) yield { op: 'post', id: `m${i}`, payload };
    }
    const out = await deliver(tasks(), options({ transport, concurrency: 4 }));
    expect(out.sent).toBe(160);
    // The room's first post starts while the caller's chain has barely begun (with the chain
    // holding workers, it started after ~147 of the caller's posts).
    expect(starts.indexOf('m0')).toBeLessThan(5);
    // The caller's own messages still go one at a time, in order.
    expect(starts.filter((id) => id === 'caller')).toHaveLength(150);
  });
});
