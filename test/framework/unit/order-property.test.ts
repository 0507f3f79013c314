// The order rule: for every connection, messages arrive in enqueue order, minus exact duplicates
// of a payload already delivered to it earlier in the same flush. Random sequences of send,
// broadcast, toRoom and toAll with repeated payloads, random room membership and random request
// latency (so that sends to different connections overtake each other).
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { wsHandler } from '../../../src/index.ts';
import type { Transport } from '../../../src/management/transport.ts';
import { MemoryStore } from '../../../src/store/memory-store.ts';
import { makeWsEvent } from '../../../src/testing/events.ts';
import { withTestingOverrides } from '../../../src/testing/overrides.ts';

const everyone = ['a', 'b', 'c', 'd', 'e', 'f'];
const id = fc.constantFrom(...everyone);
const payload = fc.integer({ min: 0, max: 3 });
const op = fc.oneof(
  fc.record({ kind: fc.constant('send' as const), id, msg: payload }),
  fc.record({ kind: fc.constant('broadcast' as const), list: fc.array(id, { maxLength: 6 }), msg: payload }),
  fc.record({ kind: fc.constant('room' as const), room: fc.constantFrom('r1', 'r2'), msg: payload }),
  fc.record({ kind: fc.constant('all' as const), msg: payload }),
);

describe('per-connection order (property)', () => {
  it('is enqueue order minus repeats of a payload the connection already got', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 1, maxLength: 12 }),
        fc.subarray(everyone),
        fc.subarray(everyone),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 16 }),
        fc.integer({ min: 1, max: 6 }),
        async (ops, r1, r2, delays, concurrency) => {
          const store = new MemoryStore();
          for (const c of everyone) await store.connect(c);
          for (const c of r1) await store.join(c, 'r1');
          for (const c of r2) await store.join(c, 'r2');
          const rooms: Record<string, string[]> = { r1, r2 };

          const received = new Map<string, number[]>();
          let n = 0;
          const transport: Transport = {
            post: async (to, body) => {
              await new Promise((resolve) => setTimeout(resolve, delays[n++ % delays.length]));
              received.set(to, [...(received.get(to) ?? []), JSON.parse(new TextDecoder().decode(body)).m]);
            },
            delete: async () => undefined,
            destroy: () => undefined,
          };
          const handler = wsHandler(
            async (_e, context) => {
              for (const o of ops) {
                // A fresh object each time: equal JSON is the same payload, as the README says.
                const message = { m: o.msg };
                if (o.kind === 'send') context.outbox.send(o.id, message);
                if (o.kind === 'broadcast') context.outbox.broadcast(o.list, message);
                if (o.kind === 'room') context.outbox.toRoom(o.room, message);
                if (o.kind === 'all') context.outbox.toAll(message);
              }
            },
            { logger: false, errorLogger: false, concurrency },
          );
          const context = withTestingOverrides({ awsRequestId: 'r', getRemainingTimeInMillis: () => 30_000 }, { transport, store });
          await handler(makeWsEvent({ routeKey: 'send', connectionId: 'caller', body: {} }), context as never);

          // The model: walk the enqueues in order; each recipient gets a payload the first time only.
          const expected = new Map<string, number[]>();
          for (const o of ops) {
            const targets = o.kind === 'send' ? [o.id] : o.kind === 'broadcast' ? o.list : o.kind === 'room' ? rooms[o.room]! : everyone;
            for (const to of new Set(targets)) {
              const got = expected.get(to) ?? [];
              if (!got.includes(o.msg)) expected.set(to, [...got, o.msg]);
            }
          }
          for (const c of everyone) expect(received.get(c) ?? []).toEqual(expected.get(c) ?? []);
        },
      ),
      { numRuns: 120 },
    );
  });

  it('the counterexample from the review: send(B, x); send(A, y); send(A, x) gives A y then x', async () => {
    const order: string[] = [];
    const transport: Transport = {
      post: async (to, body) => void order.push(`${to}:${new TextDecoder().decode(body)}`),
      delete: async () => undefined,
      destroy: () => undefined,
    };
    const handler = wsHandler(
      async (_e, context) => {
        context.outbox.send('B', 'x');
        context.outbox.send('A', 'y');
        context.outbox.send('A', 'x');
      },
      { logger: false, store: false },
    );
    await handler(makeWsEvent({ routeKey: 'send', connectionId: 'caller', body: {} }), withTestingOverrides({ awsRequestId: 'r' }, { transport }) as never);
    expect(order.filter((o) => o.startsWith('A:'))).toEqual(['A:y', 'A:x']);
    expect(order.filter((o) => o.startsWith('B:'))).toEqual(['B:x']);
  });
});
