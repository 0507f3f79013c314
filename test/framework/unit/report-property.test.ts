import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { wsHandler, type DeliveryReport } from '../../../src/index.ts';
import { MemoryStore } from '../../../src/store/memory-store.ts';
import type { Store } from '../../../src/store/store.ts';
import { makeWsEvent } from '../../../src/testing/events.ts';
import { withTestingOverrides } from '../../../src/testing/overrides.ts';
import { scriptedTransport, type Outcome } from '../../helpers/recording-transport.ts';

// For any mix of recipients (duplicates, rooms, "all"), per-attempt outcomes, store behaviour
// (reads that fail part-way, reads that hang, a budget that runs out mid-read) and an early
// return elsewhere in the Middy stack: there is exactly one report, it adds up
// (sent + gone + failed === queued, unresolved entries apart), no id is both sent and gone, and
// gone ids are pruned.

const everyone = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
const ids = fc.constantFrom(...everyone);
// A connection is either gone for good (410 on every attempt) or alive with transient trouble.
const outcome: fc.Arbitrary<Outcome> = fc.constantFrom('ok', 'ok', 'ok', 'throttled', 'server', 'network', 'forbidden', 'too-large', 'timeout');
const op = fc.oneof(
  fc.record({ kind: fc.constant('send' as const), id: ids, msg: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('broadcast' as const), list: fc.array(ids, { maxLength: 10 }), msg: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('room' as const), msg: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('all' as const), msg: fc.integer({ min: 0, max: 2 }) }),
);
/** How the store answers reads: normally, failing after `after` ids, hanging after `after` ids, or slowly (the budget ends mid-read). */
const storeMode = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'ok' as const, after: 0 }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('fails' as const), after: fc.integer({ min: 0, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('hangs' as const), after: fc.integer({ min: 0, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('slow' as const), after: fc.integer({ min: 0, max: 4 }) }) },
);

/** Reads that behave as `mode` says; everything else is the memory store's. */
const withReads = (store: MemoryStore, mode: { kind: 'ok' | 'fails' | 'hangs' | 'slow'; after: number }): Store => {
  if (mode.kind === 'ok') return store;
  const read = (source: AsyncIterable<string>) =>
    (async function* () {
      let n = 0;
      for await (const id of source) {
        if (n++ === mode.after) {
          if (mode.kind === 'fails') throw new Error('InternalServerError');
          if (mode.kind === 'hangs') await new Promise(() => undefined);
          if (mode.kind === 'slow') await new Promise((resolve) => setTimeout(resolve, 400));
        }
        yield id;
      }
    })();
  return Object.assign(Object.create(store), {
    members: (room: string, options?: { signal?: AbortSignal }) => read(store.members(room, options)),
    all: (options?: { signal?: AbortSignal }) => read(store.all(options)),
  });
};

describe('delivery report (property)', () => {
  it('adds up, once per invocation, for random recipients, outcomes, store failures, deadlines and early returns', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 1, maxLength: 8 }),
        fc.dictionary(ids, fc.array(outcome, { minLength: 1, maxLength: 4 })),
        fc.subarray(everyone),
        fc.subarray(everyone),
        storeMode,
        fc.boolean(),
        async (ops, script, roomMembers, goneIds, mode, earlyReturn) => {
          const memory = new MemoryStore();
          for (const id of everyone) await memory.connect(id);
          for (const id of roomMembers) await memory.join(id, 'r');
          const store = withReads(memory, mode);
          // Each attempt takes the next scripted outcome; past the script, the last one repeats.
          const t = scriptedTransport((id, n) => {
            if (goneIds.includes(id)) return 'gone';
            const plan = script[id] ?? ['ok'];
            return plan[Math.min(n, plan.length) - 1]!;
          });
          const reports: DeliveryReport[] = [];
          const expected = new Map<number, Set<string>>();
          const add = (msg: number, list: Iterable<string>) => {
            const s = expected.get(msg) ?? new Set<string>();
            for (const id of list) s.add(id);
            expected.set(msg, s);
          };
          let handler = wsHandler(
            async (_e, context) => {
              for (const o of ops) {
                const message = { m: o.msg };
                if (o.kind === 'send') {
                  context.outbox.send(o.id, message);
                  add(o.msg, [o.id]);
                }
                if (o.kind === 'broadcast') {
                  context.outbox.broadcast(o.list, message);
                  add(o.msg, o.list);
                }
                if (o.kind === 'room') {
                  context.outbox.toRoom('r', message);
                  add(o.msg, roomMembers);
                }
                if (o.kind === 'all') {
                  context.outbox.toAll(message);
                  add(o.msg, everyone);
                }
              }
            },
            {
              logger: false,
              errorLogger: false,
              onReport: (r) => void reports.push(r),
              connectGraceMs: 0,
              requestTimeoutMs: 20,
              backoff: { baseMs: 0, throttledBaseMs: 0, capMs: 0 },
              // A short budget, so that hung and slow reads meet the deadline quickly.
              safetyMarginMs: 100,
              reserveMs: 120,
            },
          );
          if (earlyReturn) handler = handler.use({ after: () => ({ statusCode: 202 }) });
          const budget = 500;
          const started = Date.now();
          const context = withTestingOverrides(
            { awsRequestId: 'r', getRemainingTimeInMillis: () => budget - (Date.now() - started) },
            { transport: t.transport, store },
          );
          const response = await handler(makeWsEvent({ routeKey: 'send', connectionId: 'caller', body: {} }), context as never);

          expect(Date.now() - started).toBeLessThan(budget);
          expect(response).toEqual({ statusCode: earlyReturn ? 202 : 200 });
          expect(reports).toHaveLength(1);
          const r = reports[0]!;
          const distinct = [...expected.values()].reduce((n, s) => n + s.size, 0);
          expect(r.sent + r.gone.length + r.failed.length).toBe(r.queued);
          // Only room and "all" entries can be unresolved, and only when the store misbehaved.
          if (mode.kind === 'ok') expect(r.unresolved).toEqual([]);
          for (const u of r.unresolved) expect(u.reason).toBe(mode.kind === 'fails' ? 'store' : 'deadline');
          if (r.unresolved.length === 0) expect(r.queued).toBe(distinct);
          else expect(r.queued).toBeLessThanOrEqual(distinct);
          const sent = new Set(t.succeeded);
          const goneSet = new Set(r.gone);
          expect(t.succeeded).toHaveLength(r.sent);
          // No id is both sent and gone, and only gone recipients are reported gone.
          for (const id of goneSet) expect(sent.has(id) || !goneIds.includes(id)).toBe(false);
          if (r.unresolved.length === 0 && r.failed.every((f) => f.reason !== 'deadline')) {
            const recipients = new Set([...expected.values()].flatMap((s) => [...s]));
            expect([...goneSet].sort()).toEqual(goneIds.filter((id) => recipients.has(id)).sort());
          }
          expect(r.failed.every((f) => !goneSet.has(f.connectionId))).toBe(true);
          // Gone ids are pruned from the store, or reported as not pruned.
          const unpruned = new Set(r.unpruned.map((u) => u.connectionId));
          for (const id of goneSet) if (!unpruned.has(id)) expect(await memory.get(id)).toBeUndefined();
        },
      ),
      { numRuns: 150 },
    );
  }, 120_000);
});
