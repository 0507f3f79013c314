// Whatever the rest of a user's Middy stack does (early returns in before, after or onError, other
// middlewares throwing, a refused $connect), the outbox is flushed, or discarded, with exactly one
// report: never dropped silently. Each case composes wsHandler (or outbox() alone) with user
// middlewares and asserts what was sent and reported.
import { describe, expect, it, jest } from '@jest/globals';
import middy from '@middy/core';
import { createError } from '@middy/util';
import { cleanupOutbox, outbox, wsHandler, type DeliveryReport, type WsContext } from '../../../src/index.ts';
import { MemoryStore } from '../../../src/store/memory-store.ts';
import type { Store } from '../../../src/store/store.ts';
import { makeWsEvent } from '../../../src/testing/events.ts';
import { withTestingOverrides } from '../../../src/testing/overrides.ts';
import { scriptedTransport } from '../../helpers/recording-transport.ts';

const decoder = new TextDecoder();

/** Runs `handler` as Lambda would, and returns the response (or error), what went out, and every report and log line. */
const run = async (handler: (event: never, context: never) => Promise<unknown>, options: { routeKey?: string; store?: Store; body?: unknown } = {}) => {
  const t = scriptedTransport(() => 'ok');
  const reports: DeliveryReport[] = [];
  const started = Date.now();
  const context = withTestingOverrides(
    { awsRequestId: 'r', getRemainingTimeInMillis: () => 10_000 - (Date.now() - started) },
    { transport: t.transport, store: options.store ?? new MemoryStore(), onReport: (r) => void reports.push(r) },
  );
  let response: unknown;
  let error: unknown;
  try {
    response = await handler(
      makeWsEvent({ routeKey: options.routeKey ?? 'send', connectionId: 'caller', body: options.body ?? {} }) as never,
      context as never,
    );
  } catch (e) {
    error = e;
  }
  const sent = t.posts.map((p) => `${p.id}:${decoder.decode(p.body)}`);
  return { response, error, sent, reports };
};

const logged = () => {
  const lines: string[] = [];
  return { lines, logger: (line: string) => void lines.push(line) };
};
const quiet = { errorLogger: false as const, logger: false as const };

describe('wsHandler inside a user Middy stack', () => {
  it('an after middleware that returns early: the outbox is still flushed, once', async () => {
    const log = logged();
    const handler = wsHandler(async (_e, context) => context.outbox.send('friend', 'hello'), { ...quiet, logger: log.logger }).use({
      after: () => ({ statusCode: 200, body: 'from cache' }),
    });
    const out = await run(handler);
    expect(out.response).toEqual({ statusCode: 200, body: 'from cache' });
    expect(out.sent).toEqual(['friend:hello']);
    expect(out.reports).toHaveLength(1);
    expect(log.lines).toHaveLength(1);
  });

  it('a before middleware that returns early after enqueuing: its message goes out', async () => {
    const handler = wsHandler(async (_e, context) => context.outbox.send('friend', 'never'), quiet).use({
      before: (request: any) => {
        request.context.outbox.reply('denied');
        return { statusCode: 403 };
      },
    });
    const out = await run(handler);
    expect(out.response).toEqual({ statusCode: 403 });
    expect(out.sent).toEqual(['caller:denied']);
    expect(out.reports).toHaveLength(1);
  });

  it("a user onError that answers the error itself: the handler's messages are discarded, the user's reply goes out", async () => {
    const handler = wsHandler(async (_e, context) => {
      context.outbox.send('friend', 'half-done');
      throw new Error('boom');
    }, quiet).onError((request: any) => {
      request.context.outbox.reply({ type: 'oops' });
      return { statusCode: 500, body: 'handled' };
    });
    const out = await run(handler);
    expect(out.response).toEqual({ statusCode: 500, body: 'handled' });
    expect(out.sent).toEqual(['caller:{"type":"oops"}']);
    expect(out.reports).toHaveLength(1);
    expect(out.reports[0]).toMatchObject({ queued: 1, sent: 1, discarded: 1 });
  });

  it("a user onError that only enqueues: kept, before the outbox's own error reply", async () => {
    const handler = wsHandler(async (_e, context) => {
      context.outbox.send('friend', 'half-done');
      throw createError(409, 'taken');
    }, quiet).onError((request: any) => {
      request.context.outbox.send('audit', 'it failed');
    });
    const out = await run(handler);
    expect((out.response as { statusCode: number }).statusCode).toBe(409);
    expect(out.sent).toEqual(['audit:it failed', 'caller:{"type":"error","message":"taken"}']);
    expect(out.reports).toHaveLength(1);
    expect(out.reports[0]).toMatchObject({ discarded: 1 });
  });

  it("a middleware whose after throws: the handler's messages are discarded and the caller gets the error reply", async () => {
    const handler = wsHandler(async (_e, context) => context.outbox.send('friend', 'half-done'), quiet).use({
      after: () => {
        throw createError(422, 'response failed validation');
      },
    });
    const out = await run(handler);
    expect((out.response as { statusCode: number }).statusCode).toBe(422);
    expect(out.sent).toEqual(['caller:{"type":"error","message":"response failed validation"}']);
    expect(out.reports).toHaveLength(1);
    expect(out.reports[0]).toMatchObject({ discarded: 1 });
  });

  it('a middleware whose before throws: only the error reply goes out', async () => {
    const handler = wsHandler(async (_e, context) => context.outbox.send('friend', 'never'), quiet).use({
      before: () => {
        throw createError(401, 'who are you?');
      },
    });
    const out = await run(handler);
    expect(out.sent).toEqual(['caller:{"type":"error","message":"who are you?"}']);
    expect(out.reports).toHaveLength(1);
  });

  it('an after middleware registered before the outbox that throws once the outbox has flushed: still one report', async () => {
    const log = logged();
    // outbox() alone, with a middleware that runs after it; the flush has happened when it throws.
    const handler = middy(
      async (_e: unknown, context: WsContext) => {
        context.outbox.send('friend', 'hello');
        return { statusCode: 200 };
      },
      { requestEnd: cleanupOutbox },
    )
      .use({
        after: () => {
          throw new Error('late failure');
        },
        onError: () => undefined,
      })
      .use(outbox({ logger: log.logger }));
    const out = await run(handler as never);
    expect(out.sent).toEqual(['friend:hello']);
    expect(out.reports).toHaveLength(1);
    expect(log.lines).toHaveLength(1);
    expect(out.error).toBeInstanceOf(Error);
  });

  it('a non-2xx $connect discards what it enqueued, as a throw would', async () => {
    const handler = wsHandler(async (_e, context) => {
      context.outbox.send('lobby-watcher', 'someone is joining');
      return { statusCode: 401 };
    }, quiet);
    const out = await run(handler, { routeKey: '$connect' });
    expect(out.response).toEqual({ statusCode: 401 });
    expect(out.sent).toEqual([]);
    expect(out.reports).toHaveLength(1);
    expect(out.reports[0]).toMatchObject({ queued: 0, discarded: 1 });
  });

  it('an onReport that throws: the response is unchanged, no error frame, called once, logged', async () => {
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      let calls = 0;
      const handler = wsHandler(async (_e, context) => context.outbox.reply('done'), {
        ...quiet,
        onReport: () => {
          calls++;
          throw new Error('metrics backend down');
        },
      });
      const out = await run(handler);
      expect(out.response).toEqual({ statusCode: 200 });
      expect(out.sent).toEqual(['caller:done']);
      expect(calls).toBe(1);
      expect(out.reports).toHaveLength(1);
      expect(errors.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringContaining('onReport failed')]);
    } finally {
      errors.mockRestore();
    }
  });

  it("a store failure on one room: the others and the caller's reply still go out, the response stays 200, one report", async () => {
    const store = new MemoryStore();
    for (const id of ['a', 'b']) {
      await store.connect(id);
      await store.join(id, 'fine');
    }
    const broken: Store = Object.assign(Object.create(store), {
      members: (room: string, options?: { signal?: AbortSignal }) => {
        if (room !== 'broken') return store.members(room, options);
        return (async function* () {
          yield 'a';
          throw Object.assign(new Error('ProvisionedThroughputExceededException'), { name: 'ProvisionedThroughputExceededException' });
        })();
      },
    });
    const log = logged();
    const handler = wsHandler(
      async (_e, context) => {
        context.outbox.toRoom('broken', 'one');
        context.outbox.toRoom('fine', 'two');
        context.outbox.reply('three');
      },
      { ...quiet, logger: log.logger },
    );
    const out = await run(handler, { store: broken });
    expect(out.response).toEqual({ statusCode: 200 });
    // Per connection in enqueue order; across connections in parallel.
    expect(out.sent.filter((s) => s.startsWith('a:'))).toEqual(['a:one', 'a:two']);
    expect(out.sent.sort()).toEqual(['a:one', 'a:two', 'b:two', 'caller:three']);
    expect(out.reports).toHaveLength(1);
    expect(out.reports[0]!.unresolved).toEqual([
      { target: 'room', room: 'broken', reason: 'store', error: 'ProvisionedThroughputExceededException', reached: 1 },
    ]);
    expect(log.lines).toHaveLength(1);
    expect(JSON.parse(log.lines[0]!)).toMatchObject({ level: 'warn', unresolved: [{ room: 'broken', reason: 'store' }] });
  });

  it("the handler gets Middy's abort signal", async () => {
    let signal: unknown;
    const handler = wsHandler(async (_e, _context, extras) => {
      signal = extras.signal;
    }, quiet);
    await run(handler);
    expect(signal).toBeInstanceOf(AbortSignal);
  });
});

describe('outbox() in a stack of your own', () => {
  it("with Middy's requestEnd hook: an early return in after still flushes", async () => {
    const handler = middy(
      async (_e: unknown, context: WsContext) => {
        context.outbox.send('friend', 'hello');
        return { statusCode: 200 };
      },
      { requestEnd: cleanupOutbox },
    )
      .use(outbox({ logger: false }))
      .use({ after: () => ({ statusCode: 204 }) });
    const out = await run(handler as never);
    expect(out.response).toEqual({ statusCode: 204 });
    expect(out.sent).toEqual(['friend:hello']);
    expect(out.reports).toHaveLength(1);
  });

  it('a middleware that returns early calls cleanupOutbox(request) itself, as with Powertools: flushed before it returns', async () => {
    let sentBeforeReturn: DeliveryReport | undefined;
    const handler = middy(async (_e: unknown, context: WsContext) => {
      context.outbox.send('friend', 'hello');
      return { statusCode: 200 };
    })
      .use(outbox({ logger: false }))
      .use({
        after: async (request: { internal: Record<string, unknown> }) => {
          sentBeforeReturn = await cleanupOutbox(request);
          return { statusCode: 204 };
        },
      });
    const out = await run(handler as never);
    expect(sentBeforeReturn).toMatchObject({ queued: 1, sent: 1 });
    expect(out.sent).toEqual(['friend:hello']);
    expect(out.reports).toHaveLength(1);
  });
});
