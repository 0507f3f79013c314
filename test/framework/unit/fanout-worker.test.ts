// fanoutHandler's decisions, with the in-memory store and a scripted @connections: a shard done,
// a shard carried on (new cursor, transient failures), a shard that made no progress (back to the
// queue), and messages it cannot use. The real queue and store are in test/framework/integration/fanout.test.ts.
import { describe, expect, it } from '@jest/globals';
import type { SQSRecord } from 'aws-lambda';
import { fanoutHandler, MemoryStore, type FanoutReport, type Store } from '../../../src/index.ts';
import { shardOf } from '../../../src/store/index.ts';
import { bodyOf, parseFanoutMessage, type FanoutMessage } from '../../../src/fanout/message.ts';
import type { QueueSender } from '../../../src/fanout/queue.ts';
import { scriptedTransport, type Outcome } from '../../helpers/recording-transport.ts';

const message = (over: Partial<FanoutMessage> = {}): FanoutMessage => ({
  v: 1,
  id: 'req/0',
  target: 'all',
  shard: 2,
  shards: 4,
  payload: '{"type":"hi"}',
  encoding: 'utf8',
  endpoint: 'https://abc.execute-api.us-east-1.amazonaws.com/dev',
  hop: 0,
  ...over,
});

const record = (body: string, receiveCount = 1): SQSRecord => ({
  messageId: `m-${Math.random()}`,
  receiptHandle: 'rh',
  body,
  md5OfBody: '',
  eventSource: 'aws:sqs',
  awsRegion: 'us-east-1',
  eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:FanoutQueue',
  messageAttributes: {},
  attributes: { ApproximateReceiveCount: String(receiveCount), SentTimestamp: '1', SenderId: 's', ApproximateFirstReceiveTimestamp: '1' },
});

const context = (ms = 10_000) => ({ awsRequestId: 'r', getRemainingTimeInMillis: () => ms }) as never;

const setup = async (
  options: { script?: (id: string, attempt: number) => Outcome; store?: Store; pageSize?: number; slowMs?: number; endpoint?: string | null } = {},
) => {
  const memory = new MemoryStore({ shards: 4, pageSize: options.pageSize ?? 1000 });
  const ids = Array.from({ length: 200 }, (_, i) => `c${String(i).padStart(3, '0')}`);
  for (const id of ids) await memory.connect(id);
  const inShard = ids.filter((id) => shardOf(id, 4) === 2);
  const transport = scriptedTransport(options.script ?? (() => 'ok'));
  const queued: FanoutMessage[] = [];
  const queue: QueueSender = {
    send: async (bodies) => {
      queued.push(...bodies.map(parseFanoutMessage));
      return { failed: [] };
    },
  };
  const reports: FanoutReport[] = [];
  const slow = options.slowMs;
  const post = transport.transport.post;
  if (slow)
    transport.transport.post = async (...args) => {
      await new Promise((resolve) => setTimeout(resolve, slow));
      return post(...args);
    };
  // The endpoints the worker built a client for: where its signed requests would have gone.
  const endpoints: string[] = [];
  const handler = fanoutHandler({
    ...(options.endpoint === null ? {} : { endpoint: options.endpoint ?? message().endpoint }),
    store: options.store ?? memory,
    transport: (o) => {
      endpoints.push(o.endpoint);
      return transport.transport;
    },
    queue,
    logger: false,
    retryDelaySeconds: 0,
    ...(slow ? { concurrency: 1 } : {}),
    backoff: { baseMs: 1, throttledBaseMs: 1, capMs: 2 },
    onReport: (r) => {
      reports.push(r);
    },
  });
  return { memory, inShard, ids, transport, queued, reports, handler, endpoints };
};

describe('fanoutHandler', () => {
  it('delivers its shard, except whom the sender excepted, and reports it done', async () => {
    const { inShard, transport, handler, reports, queued } = await setup();
    const except = inShard.slice(0, 2);
    const out = await handler({ Records: [record(bodyOf(message({ except })))] } as never, context());
    expect(out).toEqual({ batchItemFailures: [] });
    expect(transport.succeeded.sort()).toEqual(inShard.slice(2).sort());
    expect(reports[0]!.fanout).toMatchObject({ outcome: 'done', shard: 2, read: inShard.length, continuations: 0 });
    expect(queued).toEqual([]);
  });

  it('carries recipients that keep failing on to a continuation, and acknowledges the record', async () => {
    const { inShard, handler, reports, queued } = await setup({ script: (id) => (id === inShardFirst ? 'server' : 'ok') });
    const out = await handler({ Records: [record(bodyOf(message()))] } as never, context());
    expect(out).toEqual({ batchItemFailures: [] });
    expect(reports[0]!.fanout).toMatchObject({ outcome: 'continued', retried: 1, continuations: 1 });
    expect(queued).toEqual([{ ...message(), done: true, ids: [inShard[0]], hop: 1 }]);
  });

  it('continues from the cursor when its budget ends mid-shard, and the next one resumes there', async () => {
    // One request at a time, 5 ms each: ~50 recipients take ~250 ms.
    const { inShard, handler, reports, queued, transport } = await setup({ pageSize: 5, slowMs: 5 });
    // 700 ms left, 500 of them the safety margin: reads stop after ~100 ms, sends ~25 ms later.
    await handler({ Records: [record(bodyOf(message()))] } as never, context(700));
    expect(reports[0]!.fanout.outcome).toBe('continued');
    const next = queued[0]!;
    expect(next.cursor).toBeDefined();
    expect(next.hop).toBe(1);
    // Run the continuations until the shard is done: everyone exactly once.
    for (let i = 0; i < 100 && queued.length > 0; i++) {
      const m = queued.shift()!;
      await handler({ Records: [record(bodyOf(m))] } as never, context(700));
    }
    expect(reports.at(-1)!.fanout.outcome).toBe('done');
    expect(transport.succeeded.sort()).toEqual([...inShard].sort());
  });

  it('sends a shard that made no progress back to the queue (batchItemFailures), with the reason', async () => {
    const broken: Store = Object.assign(new MemoryStore({ shards: 4 }), {
      pagesOf: () => {
        throw new Error('ProvisionedThroughputExceededException');
      },
    });
    const { handler, reports, queued } = await setup({ store: broken });
    const r = record(bodyOf(message()), 3);
    const out = await handler({ Records: [r] } as never, context());
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: r.messageId }] });
    expect(reports[0]!.fanout).toMatchObject({ outcome: 'retry', receiveCount: 3, error: expect.stringContaining('ProvisionedThroughputExceeded') });
    expect(queued).toEqual([]);
  });

  it('returns inside its budget when the store hangs (and ignores its signal): the shard goes back to the queue', async () => {
    const hung: Store = Object.assign(new MemoryStore({ shards: 4 }), {
      pagesOf: async function* () {
        await new Promise(() => {});
      },
    });
    const { handler, reports } = await setup({ store: hung });
    const r = record(bodyOf(message()));
    const started = performance.now();
    const out = await handler({ Records: [r] } as never, context(2_000));
    // The budget: 2 s remaining less the 500 ms safety margin.
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: r.messageId }] });
    expect(reports[0]!.fanout).toMatchObject({ outcome: 'retry', read: 0 });
    expect(reports[0]!.unresolved).toEqual([expect.objectContaining({ target: 'all', shard: 2, reason: 'deadline', reached: 0 })]);
  });

  it('sends back what it cannot use, saying why: not a fan-out message, a shard this store does not have', async () => {
    const { handler, reports } = await setup();
    const junk = record('{"hello":1}');
    const tooFar = record(bodyOf(message({ shard: 9, shards: 16 })));
    const out = await handler({ Records: [junk, tooFar] } as never, context());
    expect(out.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([junk.messageId, tooFar.messageId].sort());
    expect(reports.map((r) => r.fanout.error).sort()).toEqual(
      [
        expect.stringMatching(/not a ws-outbox fan-out message: unknown version/),
        expect.stringMatching(/shard 9 of 16 is not one of this store's 4 shards: give every function the same CONNECTION_SHARDS/),
      ].sort(),
    );
  });

  describe('a queue message is input: it never chooses where the worker posts, how much, or to whom', () => {
    const withEnv = async (env: Record<string, string | undefined>, run: () => Promise<void>) => {
      const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
      for (const [k, v] of Object.entries(env))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      try {
        await run();
      } finally {
        for (const [k, v] of Object.entries(saved))
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
      }
    };
    const noEndpointEnv = { AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: undefined, WEBSOCKET_API_ID: undefined, WEBSOCKET_STAGE: undefined };

    it('a message naming another endpoint is refused and dead-lettered: no client for it, nothing posted', async () => {
      const { handler, transport, reports, endpoints } = await setup();
      const r = record(bodyOf(message({ endpoint: 'http://attacker.example/stolen' })));
      const out = await handler({ Records: [r] } as never, context());
      expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: r.messageId }] });
      expect(endpoints).toEqual([]);
      expect(transport.posts).toEqual([]);
      expect(reports[0]!.fanout).toMatchObject({
        outcome: 'retry',
        error: expect.stringMatching(
          /names the endpoint "http:\/\/attacker.example\/stolen", not this worker's https:\/\/abc.execute-api.us-east-1.amazonaws.com\/dev: refused/,
        ),
      });
    });

    it('with no endpoint configured, it takes none from the message: every message is refused, saying what to set', async () => {
      await withEnv(noEndpointEnv, async () => {
        const { handler, transport, reports, endpoints } = await setup({ endpoint: null });
        const out = await handler({ Records: [record(bodyOf(message()))] } as never, context());
        expect(out.batchItemFailures).toHaveLength(1);
        expect(endpoints).toEqual([]);
        expect(transport.posts).toEqual([]);
        expect(reports[0]!.fanout.error).toMatch(/does not know its API's @connections endpoint.*set WEBSOCKET_API_ID and WEBSOCKET_STAGE/);
      });
    });

    it('derives its endpoint from WEBSOCKET_API_ID, WEBSOCKET_STAGE and the region, and delivers messages that name it', async () => {
      await withEnv({ ...noEndpointEnv, WEBSOCKET_API_ID: 'abc', WEBSOCKET_STAGE: 'dev', AWS_REGION: 'us-east-1' }, async () => {
        const { handler, inShard, transport, endpoints } = await setup({ endpoint: null });
        const out = await handler({ Records: [record(bodyOf(message()))] } as never, context());
        expect(out).toEqual({ batchItemFailures: [] });
        expect(endpoints).toEqual(['https://abc.execute-api.us-east-1.amazonaws.com/dev']);
        expect(transport.succeeded.sort()).toEqual([...inShard].sort());
      });
    });

    it('refuses payloads over 128 KB (200 KB and 1 MB): nothing posted', async () => {
      const { handler, transport, reports } = await setup();
      const records = [200 * 1024, 1024 * 1024].map((n) => record(bodyOf(message({ payload: 'x'.repeat(n) }))));
      const out = await handler({ Records: records } as never, context());
      expect(out.batchItemFailures).toHaveLength(2);
      expect(transport.posts).toEqual([]);
      expect(reports.map((r) => r.fanout.error)).toEqual([
        expect.stringMatching(/payload is 204800 bytes, over API Gateway's 131072-byte limit: refused/),
        expect.stringMatching(/payload is 1048576 bytes, over/),
      ]);
    });

    it('posts carried ids only when the store lists them (live; in the room for a room): 5,000 made-up ids reach nobody', async () => {
      const { handler, transport, reports, inShard, ids, memory } = await setup();
      const madeUp = Array.from({ length: 5000 }, (_, i) => `forged${i}`);
      // A sender's hand-over carries ids of every shard in one message: any live connection is listed.
      const otherShard = ids.find((id) => shardOf(id, 4) !== 2)!;
      await handler({ Records: [record(bodyOf(message({ done: true, ids: [...madeUp, otherShard, inShard[0]!] })))] } as never, context());
      expect(transport.posts.map((p) => p.id)).toEqual([otherShard, inShard[0]]);
      expect(reports[0]!.fanout).toMatchObject({ outcome: 'done', unlisted: 5000 });
      // A room message: members only.
      await memory.join(inShard[1]!, 'r');
      transport.posts.length = 0;
      await handler(
        {
          Records: [record(bodyOf(message({ target: 'room', room: 'r', shard: undefined, shards: undefined, done: true, ids: [inShard[1]!, inShard[2]!] })))],
        } as never,
        context(),
      );
      expect(transport.posts.map((p) => p.id)).toEqual([inShard[1]]);
    });
  });

  it('refuses nonsense options when it is built', () => {
    expect(() => fanoutHandler({ concurrency: 0 })).toThrow(/fanout concurrency must be an integer >= 1/);
    expect(() => fanoutHandler({ retryDelaySeconds: -1 })).toThrow(/fanout retryDelaySeconds/);
  });
});

let inShardFirst = '';
// The first id of shard 2 in setup()'s store (ids c000…c199, 4 shards).
for (let i = 0; i < 200 && !inShardFirst; i++) if (shardOf(`c${String(i).padStart(3, '0')}`, 4) === 2) inShardFirst = `c${String(i).padStart(3, '0')}`;
