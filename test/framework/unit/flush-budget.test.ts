// One deadline for the whole flush: recipient reads, sends, retries, the prune and onReport all end
// before getRemainingTimeInMillis() runs out, however large the room and however the store behaves
// (slow, hung on a socket that never answers, or ignoring its AbortSignal). Real timers, 2 s budgets.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { wsHandler, type DeliveryReport, type WsHandlerOptions } from '../../../src/index.ts';
import type { Transport } from '../../../src/management/transport.ts';
import { ConnectionStore } from '../../../src/store/connection-store.ts';
import { createDocumentClient } from '../../../src/store/dynamodb/sdk-client.ts';
import { MemoryStore } from '../../../src/store/memory-store.ts';
import type { Store } from '../../../src/store/store.ts';
import { makeWsEvent } from '../../../src/testing/events.ts';
import { withTestingOverrides, type TestingOverrides } from '../../../src/testing/overrides.ts';
import { startBlackhole } from '../../helpers/blackhole.ts';
import { scriptedTransport } from '../../helpers/recording-transport.ts';

const budgetMs = 2000;

/** Runs a handler with a Lambda context that has `budgetMs` left; returns the report and how long it took. */
const invoke = async (fn: Parameters<typeof wsHandler>[0], overrides: TestingOverrides, options: WsHandlerOptions = {}) => {
  const reports: DeliveryReport[] = [];
  const handler = wsHandler(fn, { logger: false, errorLogger: false, onReport: (r) => void reports.push(r), ...options });
  const started = Date.now();
  const context = withTestingOverrides({ awsRequestId: 'r', getRemainingTimeInMillis: () => budgetMs - (Date.now() - started) }, overrides);
  const response = await handler(makeWsEvent({ routeKey: 'send', connectionId: 'caller', body: {} }), context as never);
  return { response, reports, elapsed: Date.now() - started };
};

/** A transport where every request takes `ms`: enough to make a big room outlast the budget. */
const slowTransport = (ms: number): Transport & { posted: string[] } => {
  const posted: string[] = [];
  return {
    posted,
    post: async (id) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      posted.push(id);
    },
    delete: async () => undefined,
    destroy: () => undefined,
  };
};

/** A store whose room reads never answer and ignore their signal: only the flush's own race ends them. */
const hungReads = (inner: Store): Store => {
  const never: AsyncIterable<string> = { [Symbol.asyncIterator]: () => ({ next: () => new Promise(() => undefined) }) };
  return Object.assign(Object.create(inner), { members: () => never, all: () => never, remove: inner.remove.bind(inner) });
};

describe('the flush budget', () => {
  it('a 200,000-member room with a 2 s budget: returns in time, reads no further, reports the room unresolved', async () => {
    const store = new MemoryStore();
    let read = 0;
    const counted: Store = Object.assign(Object.create(store), {
      members: async function* (room: string, options?: { signal?: AbortSignal }) {
        for await (const id of store.members(room, options)) {
          read++;
          yield id;
        }
      },
    });
    const members = 200_000;
    for (let i = 0; i < members; i++) {
      await store.connect(`m${i}`);
      await store.join(`m${i}`, 'huge');
    }
    const transport = slowTransport(5);
    const { response, reports, elapsed } = await invoke(
      async (_e, context) => {
        context.outbox.toRoom('huge', { text: 'hello' });
        context.outbox.reply({ text: 'sent' });
      },
      { store: counted, transport },
    );

    expect(response).toEqual({ statusCode: 200 });
    expect(elapsed).toBeLessThan(budgetMs);
    expect(reports).toHaveLength(1);
    const r = reports[0]!;
    expect(r.unresolved).toEqual([{ target: 'room', room: 'huge', reason: 'deadline', reached: expect.any(Number) }]);
    // Nothing was read past the deadline: the rest of the room is not paged just to be failed.
    expect(r.unresolved[0]!.reached).toBe(read);
    expect(read).toBeLessThan(members / 2);
    expect(r.sent + r.gone.length + r.failed.length).toBe(r.queued);
    expect(r.queued).toBe(read + 1); // what was read, plus the reply
    expect(r.failed.every((f) => f.reason === 'deadline')).toBe(true);
  }, 60_000);

  it('a store read that never answers (and ignores its signal): returns in time, later entries still go out', async () => {
    const store = new MemoryStore();
    const t = scriptedTransport(() => 'ok');
    const { response, reports, elapsed } = await invoke(
      async (_e, context) => {
        context.outbox.toRoom('stuck', { text: 'hello' });
        context.outbox.reply({ text: 'your message was queued' });
      },
      { store: hungReads(store), transport: t.transport },
    );

    expect(elapsed).toBeLessThan(budgetMs);
    expect(response).toEqual({ statusCode: 200 });
    expect(t.succeeded).toEqual(['caller']);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ queued: 1, sent: 1, unresolved: [{ target: 'room', room: 'stuck', reason: 'deadline', reached: 0 }] });
  });

  describe('against a DynamoDB endpoint that accepts and never answers (the real SDK client)', () => {
    let blackhole: Awaited<ReturnType<typeof startBlackhole>>;
    let store: ConnectionStore;
    const saved = { ...process.env };
    beforeAll(async () => {
      blackhole = await startBlackhole();
      Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_REGION: 'us-east-1' });
      // The client the store builds by default (request timeout 3 s, the SDK's 3 attempts): alone
      // it would spend ~10 s on one Query here.
      store = new ConnectionStore({ tableName: 'table', client: createDocumentClient(blackhole.endpoint) });
    });
    afterAll(async () => {
      store.client.destroy();
      await blackhole.stop();
      process.env = saved;
    });

    it('toAll: the Query is aborted at the deadline; the reply still goes out', async () => {
      const t = scriptedTransport(() => 'ok');
      const { reports, elapsed } = await invoke(
        async (_e, context) => {
          context.outbox.toAll({ text: 'hello' });
          context.outbox.reply({ text: 'ok' });
        },
        { store, transport: t.transport },
      );
      expect(elapsed).toBeLessThan(budgetMs);
      expect(blackhole.connections()).toBeGreaterThan(0); // the request really was on the wire
      expect(reports[0]).toMatchObject({ sent: 1, unresolved: [{ target: 'all', reason: 'deadline', reached: 0 }] });
    });

    it('the prune: gone connections are left to TTL and reported, within the budget', async () => {
      const gone = Array.from({ length: 60 }, (_, i) => `g${i}`);
      const t = scriptedTransport(() => 'gone');
      const { reports, elapsed } = await invoke(
        async (_e, context) => {
          context.outbox.broadcast(gone, { text: 'hello' });
        },
        { store, transport: t.transport },
      );
      expect(elapsed).toBeLessThan(budgetMs);
      const r = reports[0]!;
      expect(r.gone).toHaveLength(60);
      expect(r.pruned).toBe(0);
      expect(r.unpruned).toHaveLength(60);
      expect(new Set(r.unpruned.map((u) => u.reason))).toEqual(new Set(['deadline']));
    });
  });

  it('a prune whose store ignores its signal and never answers is abandoned at the budget', async () => {
    const store = new MemoryStore();
    const hung: Store = Object.assign(Object.create(store), { remove: () => new Promise(() => undefined) });
    const t = scriptedTransport(() => 'gone');
    const { reports, elapsed } = await invoke(async (_e, context) => context.outbox.send('g1', 'x'), { store: hung, transport: t.transport });
    expect(elapsed).toBeLessThan(budgetMs);
    expect(reports[0]).toMatchObject({ gone: ['g1'], pruned: 0, unpruned: [{ connectionId: 'g1', reason: 'deadline' }] });
  });

  it('onReport is bounded by the budget, and its failure is logged, not raised', async () => {
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const t = scriptedTransport(() => 'ok');
      let calls = 0;
      const hung = await invoke(
        async (_e, context) => context.outbox.reply('x'),
        { transport: t.transport },
        {
          store: false,
          onReport: () => {
            calls++;
            return new Promise(() => undefined);
          },
        },
      );
      expect(hung.elapsed).toBeLessThan(budgetMs);
      expect(hung.response).toEqual({ statusCode: 200 });
      expect(calls).toBe(1);
      expect(errors.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringContaining('onReport did not finish within the flush budget')]);
    } finally {
      errors.mockRestore();
    }
  });
});
