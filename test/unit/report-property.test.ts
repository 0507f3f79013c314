import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { wsHandler, type DeliveryReport } from '../../src/index.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { makeWsEvent } from '../../src/testing/events.ts';
import { withTestingOverrides } from '../../src/testing/overrides.ts';
import { scriptedTransport, type Outcome } from '../helpers/recording-transport.ts';

// For any mix of recipients (duplicates, rooms, "all") and per-attempt outcomes, the report adds
// up, no id is both sent and gone, and every distinct recipient is accounted for exactly once.

const ids = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h');
// A connection is either gone for good (410 on every attempt) or alive with transient trouble.
const outcome: fc.Arbitrary<Outcome> = fc.constantFrom('ok', 'ok', 'ok', 'throttled', 'server', 'network', 'forbidden', 'too-large', 'timeout');
const op = fc.oneof(
  fc.record({ kind: fc.constant('send' as const), id: ids, msg: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('broadcast' as const), list: fc.array(ids, { maxLength: 10 }), msg: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('room' as const), msg: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('all' as const), msg: fc.integer({ min: 0, max: 2 }) }),
);

describe('delivery report (property)', () => {
  it('adds up for random recipients and outcomes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 1, maxLength: 8 }),
        fc.dictionary(ids, fc.array(outcome, { minLength: 1, maxLength: 4 })),
        fc.subarray(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']),
        fc.subarray(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']),
        async (ops, script, roomMembers, goneIds) => {
          const store = new MemoryStore();
          for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) await store.connect(id);
          for (const id of roomMembers) await store.join(id, 'r');
          // Each attempt takes the next scripted outcome; past the script, the last one repeats.
          const t = scriptedTransport((id, n) => {
            if (goneIds.includes(id)) return 'gone';
            const plan = script[id] ?? ['ok'];
            return plan[Math.min(n, plan.length) - 1]!;
          });
          let report: DeliveryReport | undefined;
          const expected = new Map<number, Set<string>>();
          const add = (msg: number, list: Iterable<string>) => {
            const s = expected.get(msg) ?? new Set<string>();
            for (const id of list) s.add(id);
            expected.set(msg, s);
          };
          const handler = wsHandler(async (_e, context) => {
            for (const o of ops) {
              const message = { m: o.msg };
              if (o.kind === 'send') (context.outbox.send(o.id, message), add(o.msg, [o.id]));
              if (o.kind === 'broadcast') (context.outbox.broadcast(o.list, message), add(o.msg, o.list));
              if (o.kind === 'room') (context.outbox.toRoom('r', message), add(o.msg, roomMembers));
              if (o.kind === 'all') (context.outbox.toAll(message), add(o.msg, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']));
            }
          }, { logger: false, errorLogger: false, onReport: (r) => void (report = r), connectGraceMs: 0, requestTimeoutMs: 20, backoff: { baseMs: 0, throttledBaseMs: 0, capMs: 0 } });
          const started = Date.now();
          const context = withTestingOverrides({ awsRequestId: 'r', getRemainingTimeInMillis: () => 20_000 - (Date.now() - started) }, { transport: t.transport, store });
          await handler(makeWsEvent({ routeKey: 'send', connectionId: 'caller', body: {} }), context as never);

          const r = report!;
          const distinct = [...expected.values()].reduce((n, s) => n + s.size, 0);
          expect(r.queued).toBe(distinct);
          expect(r.sent + r.gone.length + r.failed.length).toBe(r.queued);
          const sent = new Set(t.succeeded);
          const goneSet = new Set(r.gone);
          expect(t.succeeded).toHaveLength(r.sent);
          // No id is both sent and gone, and exactly the gone recipients are reported gone.
          for (const id of goneSet) expect(sent.has(id)).toBe(false);
          const recipients = new Set([...expected.values()].flatMap((s) => [...s]));
          expect([...goneSet].sort()).toEqual(goneIds.filter((id) => recipients.has(id)).sort());
          expect(r.failed.every((f) => !goneSet.has(f.connectionId))).toBe(true);
          // Gone ids are pruned from the store.
          for (const id of goneSet) expect(await store.get(id)).toBeUndefined();
        },
      ),
      { numRuns: 150 },
    );
  });
});
