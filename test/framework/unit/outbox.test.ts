import { describe, expect, it, jest } from '@jest/globals';
import { createError } from '@middy/util';
import { OutboxClosedError, PayloadTooLargeError, wsHandler, type DeliveryReport, type WsContext } from '../../../src/index.ts';
import { Outbox } from '../../../src/outbox/outbox.ts';
import { WsTestHarness } from '../../../src/testing/index.ts';
import { withTestingOverrides } from '../../../src/testing/overrides.ts';
import { makeWsEvent } from '../../../src/testing/events.ts';
import { MemoryStore } from '../../../src/store/memory-store.ts';
import { scriptedTransport } from '../../helpers/recording-transport.ts';

const quiet = { logger: false as const, errorLogger: false as const };

describe('context.outbox', () => {
  it('refuses to enqueue once the flush has begun, naming the freeze bug', async () => {
    let leaked: WsContext['outbox'] | undefined;
    const handler = wsHandler(async (_event, context) => {
      leaked = context.outbox;
      context.outbox.reply('first');
    }, quiet);
    const h = new WsTestHarness();
    const result = await h.invoke(handler, { routeKey: 'send', connectionId: 'me', body: {} });
    expect(result.sent.map((s) => s.data)).toEqual(['first']);
    // What a floating promise or a timer would do after the handler returned:
    expect(() => leaked!.send('me', 'late')).toThrow(OutboxClosedError);
    expect(() => leaked!.toAll('late')).toThrow(/freezes the environment/);
  });

  it('throws when an oversize message is enqueued, and sends nothing of it', async () => {
    const box = new Outbox({ connectionId: 'me' });
    const big = 'x'.repeat(128 * 1024 + 1);
    expect(() => box.reply(big)).toThrow(PayloadTooLargeError);
    expect(() => box.toAll({ text: big })).toThrow(/limited to 131072 bytes/);
    expect(box.size).toBe(0);
    // Exactly 128 KB is allowed.
    box.reply('x'.repeat(128 * 1024));
    expect(box.size).toBe(1);
  });

  it('sends a duplicate recipient of the same message once', async () => {
    const h = new WsTestHarness();
    for (const id of ['a', 'b', 'c']) h.open.add(id);
    const handler = wsHandler(async (_e, context) => {
      const message = { type: 'hello' };
      context.outbox.broadcast(['a', 'a', 'b'], message);
      context.outbox.send('a', message);
      context.outbox.send('b', { type: 'hello' }); // equal content, another object
      context.outbox.broadcast(['c', 'a'], message, { except: 'c' });
    }, quiet);
    const result = await h.invoke(handler, { routeKey: 'send', connectionId: 'a', body: {} });
    expect(result.sent.map((s) => s.connectionId).sort()).toEqual(['a', 'b']);
    expect(result.report).toMatchObject({ queued: 2, sent: 2 });
  });

  it('dedupes across a room and "all" sends of the same message', async () => {
    const h = new WsTestHarness();
    for (const id of ['a', 'b', 'c']) {
      h.open.add(id);
      await h.store.connect(id);
    }
    await h.store.join('a', 'r');
    await h.store.join('b', 'r');
    const handler = wsHandler(async (_e, context) => {
      const m = { type: 'news' };
      context.outbox.toRoom('r', m);
      context.outbox.toAll(m);
      context.outbox.send('a', m);
    }, quiet);
    const result = await h.invoke(handler, { routeKey: 'send', connectionId: 'a', body: {} });
    expect(result.sent.map((s) => s.connectionId).sort()).toEqual(['a', 'b', 'c']);
  });

  it('serializes a message once, however many recipients', async () => {
    const t = scriptedTransport(() => 'ok');
    let serialized = 0;
    const message = {
      toJSON: () => {
        serialized++;
        return { type: 'm' };
      },
    };
    const handler = wsHandler(async (_e, context) => {
      context.outbox.broadcast(
        Array.from({ length: 1000 }, (_, i) => `c${i}`),
        message as never,
      );
    }, quiet);
    await handler(makeWsEvent({ routeKey: 'send', body: {} }), withTestingOverrides(fakeContext(), { transport: t.transport }) as never);
    expect(serialized).toBe(1);
    expect(t.posts).toHaveLength(1000);
    // Every request carries the very same bytes.
    expect(new Set(t.posts.map((p) => p.body)).size).toBe(1);
  });

  it('discards what a throwing handler enqueued and tells the caller why (4xx message shown)', async () => {
    const h = new WsTestHarness();
    for (const id of ['me', 'x', 'y']) h.open.add(id);
    const handler = wsHandler(async (_e, context) => {
      context.outbox.broadcast(['x', 'y'], 'half-done');
      throw createError(409, 'room is full');
    }, quiet);
    const result = await h.invoke(handler, { routeKey: 'join', connectionId: 'me', body: {} });
    expect(result.sent).toEqual([{ connectionId: 'me', data: '{"type":"error","message":"room is full"}', json: { type: 'error', message: 'room is full' } }]);
    expect(result.response?.statusCode).toBe(409);
    expect(result.report).toMatchObject({ queued: 1, sent: 1 });
  });

  it('keeps a 5xx message generic', async () => {
    const h = new WsTestHarness();
    const handler = wsHandler(async () => {
      throw new Error('connection string postgres://secret@db');
    }, quiet);
    const result = await h.invoke(handler, { routeKey: 'send', connectionId: 'me', body: {} });
    expect(result.response?.statusCode).toBe(500);
    expect(result.sent.map((s) => s.json)).toEqual([{ type: 'error', message: 'Internal server error' }]);
    expect(JSON.stringify(result)).not.toContain('secret');
  });

  it('answers invalid JSON with a 400 and an error reply; the handler never runs', async () => {
    const h = new WsTestHarness();
    const fn = jest.fn(async () => undefined);
    const handler = wsHandler(fn, quiet);
    const result = await h.invoke(handler, { routeKey: '$default', connectionId: 'me', body: '{"action": nope' });
    expect(fn).not.toHaveBeenCalled();
    expect(result.response?.statusCode).toBe(400);
    expect(result.sent.map((s) => s.json)).toEqual([{ type: 'error', message: 'Invalid JSON: the message must be a JSON object' }]);
  });

  it('parses base64 (binary) frames', async () => {
    const h = new WsTestHarness();
    const handler = wsHandler<{ n: number }>(async (event, context) => context.outbox.reply({ got: event.body.n }), quiet);
    const result = await h.invoke(handler, { routeKey: 'send', connectionId: 'me', body: new TextEncoder().encode('{"n":7}') });
    expect(result.sent.map((s) => s.json)).toEqual([{ got: 7 }]);
  });

  it('refuses to post to the connecting client on $connect (it does not exist yet)', async () => {
    const h = new WsTestHarness();
    const handler = wsHandler(async (_e, context) => context.outbox.reply('welcome'), quiet);
    const result = await h.connect(handler);
    expect(result.response?.statusCode).toBe(500);
    expect(result.sent).toEqual([]);
  });

  it('passes the report to onReport and logs it as one JSON line', async () => {
    const lines: string[] = [];
    const reports: DeliveryReport[] = [];
    const h = new WsTestHarness();
    h.open.add('a');
    const handler = wsHandler(async (_e, context) => context.outbox.broadcast(['a', 'gone1'], 'hi'), {
      errorLogger: false,
      logger: (line) => lines.push(line),
      onReport: (r) => void reports.push(r),
    });
    await h.invoke(handler, { routeKey: 'send', connectionId: 'a', body: {} });
    expect(reports).toEqual([expect.objectContaining({ queued: 2, sent: 1, gone: ['gone1'], failed: [], pruned: 1 })]);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'ws-outbox delivery report', queued: 2, sent: 1, gone: ['gone1'], routeKey: 'send' });
  });

  it('prunes gone connections and their memberships from the store', async () => {
    const store = new MemoryStore();
    const h = new WsTestHarness({ store });
    for (const id of ['a', 'b']) {
      await store.connect(id);
      await store.join(id, 'r');
    }
    h.open.add('a'); // b dropped without a close frame
    const handler = wsHandler(async (_e, context) => context.outbox.toRoom('r', 'hi'), quiet);
    const result = await h.invoke(handler, { routeKey: 'send', connectionId: 'a', body: {} });
    expect(result.report).toMatchObject({ queued: 2, sent: 1, gone: ['b'], pruned: 1 });
    expect(await store.get('b')).toBeUndefined();
    expect(await collect(store.members('r'))).toEqual(['a']);
  });

  it('sends the bytes as they were when enqueued, even when the caller reuses its buffer (across warm invocations too)', async () => {
    // A module-level buffer, as a handler might keep to avoid allocations.
    const shared = new Uint8Array(3);
    let round = 0;
    const handler = wsHandler(
      async (_e, context) => {
        shared.set(round === 0 ? [1, 2, 3] : [7, 8, 9]);
        context.outbox.reply(shared);
        shared.fill(0); // reused before the flush
        round++;
      },
      { ...quiet, store: false },
    );
    const h = new WsTestHarness();
    const first = await h.invoke(handler, { routeKey: 'send', connectionId: 'me', body: {} });
    const second = await h.invoke(handler, { routeKey: 'send', connectionId: 'me', body: {} });
    expect(first.sent.map((s) => s.data)).toEqual(['\u0001\u0002\u0003']);
    expect(second.sent.map((s) => s.data)).toEqual(['\u0007\b\t']);
  });

  it('needs a store for rooms, and says how to get one, where toRoom is called', async () => {
    let thrown: unknown;
    const handler = wsHandler(
      async (_e, context) => {
        try {
          context.outbox.toRoom('r', 'hi');
        } catch (error) {
          thrown = error;
          throw error;
        }
      },
      { ...quiet, store: false },
    );
    const t = scriptedTransport(() => 'ok');
    const response = await handler(
      makeWsEvent({ routeKey: 'send', connectionId: 'me', body: {} }),
      withTestingOverrides(fakeContext(), { transport: t.transport }) as never,
    );
    expect(String(thrown)).toMatch(/toRoom\(\) needs a connection store .* set TABLE_NAME, or pass \{ store \}/);
    expect(response).toMatchObject({ statusCode: 500 });
    expect(t.posts.map((p) => p.id)).toEqual(['me']); // only the error reply
  });
});

const collect = async (it: AsyncIterable<string>) => {
  const out = [];
  for await (const x of it) out.push(x);
  return out;
};

const fakeContext = (remainingMs = 10_000) => {
  const started = Date.now();
  return { awsRequestId: 'req-1', functionName: 'f', getRemainingTimeInMillis: () => remainingMs - (Date.now() - started) } as unknown as WsContext;
};

describe('report logging', () => {
  it('follows OUTBOX_LOG_LEVEL: warn keeps only reports with failures', async () => {
    const lines: string[] = [];
    const h = new WsTestHarness();
    const handler = wsHandler(async (_e, context) => context.outbox.broadcast(['me', 'nobody'], 'x'), { errorLogger: false, logger: (l) => lines.push(l) });
    process.env.OUTBOX_LOG_LEVEL = 'warn';
    try {
      await h.invoke(handler, { routeKey: 'send', connectionId: 'me', body: {} }); // 1 sent, 1 gone: info
      expect(lines).toEqual([]);
      process.env.OUTBOX_LOG_LEVEL = 'info';
      await h.invoke(handler, { routeKey: 'send', connectionId: 'me', body: {} });
      expect(lines).toHaveLength(1);
      process.env.OUTBOX_LOG_LEVEL = 'silent';
      await h.invoke(handler, { routeKey: 'send', connectionId: 'me', body: {} });
      expect(lines).toHaveLength(1);
    } finally {
      delete process.env.OUTBOX_LOG_LEVEL;
    }
  });

  it("the default handler-error log follows OUTBOX_LOG_LEVEL too: warn drops the caller's 4xx, keeps 5xx", async () => {
    const h = new WsTestHarness();
    const spy = jest.spyOn(console, 'error').mockImplementation(() => {});
    const handler = wsHandler(
      async (event) => {
        throw createError((event.body as { status: number }).status, 'nope');
      },
      { logger: false },
    );
    process.env.OUTBOX_LOG_LEVEL = 'warn';
    try {
      await h.invoke(handler, { routeKey: 'send', connectionId: 'me', body: { status: 400 } });
      expect(spy).not.toHaveBeenCalled();
      await h.invoke(handler, { routeKey: 'send', connectionId: 'me', body: { status: 500 } });
      expect(spy).toHaveBeenCalledTimes(1);
      expect(JSON.parse(spy.mock.calls[0]?.[0] as string)).toMatchObject({ level: 'error', statusCode: 500 });
      process.env.OUTBOX_LOG_LEVEL = 'info';
      await h.invoke(handler, { routeKey: 'send', connectionId: 'me', body: { status: 400 } });
      expect(spy).toHaveBeenCalledTimes(2);
    } finally {
      delete process.env.OUTBOX_LOG_LEVEL;
      spy.mockRestore();
    }
  });
});
