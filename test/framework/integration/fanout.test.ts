// Fan-out past one invocation, with real parts on loopback: dynalite for the sharded store, the
// embedded SQS (fauxqs) for the fan-out queue and its dead-letter queue, the gateway's own event
// source poller, a loopback @connections server, and the real handlers: wsHandler spilling a
// toAll/toRoom, fanoutHandler delivering the shards. The workers run in this process here (the
// gateway test runs the bundles in frozen worker processes).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { BatchWriteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { destroyTransports } from '../../../src/transport.ts';
import { ConnectionStore, fanoutHandler, wsHandler, type DeliveryReport, type FanoutReport, type Store } from '../../../src/index.ts';
import { SqsEventSource, type BatchReport } from '../../../packages/gateway/src/event-sources.ts';
import { startSqs, type LocalSqs } from '../../../packages/gateway/src/sqs.ts';
import { connectionKey, membershipKey } from '../../../src/store/keys.ts';
import { startDynalite, type DynaliteHandle } from '../../helpers/dynalite.ts';
import { inProcessPool } from '../../helpers/in-process-pool.ts';
import { gone, serverError, startManagementServer, type Behaviour, type ManagementServer } from '../../helpers/management-server.ts';
import { makeWsEvent } from '../../../src/testing/index.ts';
import { eventually } from '../../../packages/gateway/test/gateway/support.ts';

const shards = 8;
let db: DynaliteHandle;
let sqs: LocalSqs;
let sqsClient: SQSClient;
let management: ManagementServer;
let behaviour: (id: string, attempt: number) => Behaviour = () => ({ status: 200 });
let table = 0;

beforeAll(async () => {
  db = await startDynalite('fanout-test');
  sqs = await startSqs({ port: 0 });
  sqsClient = sqs.client();
  // The worker's own SQS client (continuations, ChangeMessageVisibility) and the signed transport read these.
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDFANOUTTEST',
    AWS_SECRET_ACCESS_KEY: 'fanout-test',
  });
  management = await startManagementServer((r) => behaviour(r.connectionId, r.attempt), 'test');
});

afterAll(async () => {
  destroyTransports();
  await Promise.all([db?.stop(), sqs?.stop(), management?.stop()]);
});

// Each test has its own queue and dead-letter queue: a long poll cut off when a test stops its
// pollers may still take a message (as SQS does), which would then hide for the visibility timeout.
let queues = 0;
let queue: { url: string; arn: string; dlq: string };
beforeEach(async () => {
  const n = ++queues;
  const dlq = (await sqsClient.send(new CreateQueueCommand({ QueueName: `Dlq${n}` }))).QueueUrl!;
  const dlqArn = (await sqsClient.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  const url = (
    await sqsClient.send(
      new CreateQueueCommand({
        QueueName: `Fanout${n}`,
        Attributes: { VisibilityTimeout: '30', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 3 }) },
      }),
    )
  ).QueueUrl!;
  const arn = (await sqsClient.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  queue = { url, arn, dlq };
});

const sources: SqsEventSource[] = [];
afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.stop()));
  management.delivered.length = 0;
  management.requests.length = 0;
  behaviour = () => ({ status: 200 });
});

/** A fresh table per test, so shards hold only this test's rows. */
const freshStore = async (options: { pageSize?: number } = {}): Promise<ConnectionStore> => {
  const tableName = `fanout-${++table}`;
  const { CreateTableCommand } = await import('@aws-sdk/client-dynamodb');
  const { createTableInput, loadTemplate, tableOf } = await import('../../../packages/gateway/src/template.ts');
  await db.client.send(new CreateTableCommand(createTableInput(tableOf(loadTemplate('template.yaml')), tableName) as never));
  return new ConnectionStore({ tableName, client: db.documentClient, shards, pageSize: options.pageSize ?? 100 });
};

const connectAll = async (store: ConnectionStore, ids: string[], options: { connectedAt?: number; room?: string } = {}) => {
  const ttl = Math.floor(Date.now() / 1000) + 3600;
  const connectedAt = options.connectedAt ?? Date.now() - 60_000; // past the $connect grace
  const items = ids.flatMap((id) => [
    { ...connectionKey(id, shards), ttl, connectedAt, ...(options.room ? { rooms: new Set([options.room]) } : {}) },
    ...(options.room ? [{ ...membershipKey(options.room, id), ttl }] : []),
  ]);
  for (let i = 0; i < items.length; i += 25) {
    await db.documentClient.send(
      new BatchWriteCommand({ RequestItems: { [store.tableName]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }),
    );
  }
};

const ids = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}=`);

/** The sender: a wsHandler whose handler broadcasts, spilling past `threshold`. */
const sender = (store: Store, threshold: number, what: (outbox: any) => void) => {
  const reports: DeliveryReport[] = [];
  const handler = wsHandler(
    async (_event, context) => {
      what(context.outbox);
      return { statusCode: 200 };
    },
    {
      store,
      endpoint: management.endpoint,
      fanout: { queueUrl: queue.url, threshold },
      logger: false,
      onReport: (r) => {
        reports.push(r);
      },
    },
  );
  const invoke = async (from: string) => {
    const event = makeWsEvent({ routeKey: 'send', connectionId: from, body: { action: 'send' } });
    await handler(event as never, { awsRequestId: `req-${from}`, getRemainingTimeInMillis: () => 10_000 } as never);
    return reports.at(-1)!;
  };
  return { invoke };
};

/** Workers: the real fanoutHandler behind the gateway's SQS event source poller. */
const workers = (store: Store, options: { concurrency?: number; timeoutMs?: number; fanout?: Parameters<typeof fanoutHandler>[0] } = {}) => {
  const reports: FanoutReport[] = [];
  const batches: BatchReport[] = [];
  const handler = fanoutHandler({
    store,
    endpoint: management.endpoint,
    queueUrl: queue.url,
    retryDelaySeconds: 0,
    logger: false,
    onReport: (r) => {
      reports.push(r);
    },
    ...options.fanout,
  });
  const source = new SqsEventSource({
    name: 'FanoutFunction/Shards',
    queueUrl: queue.url,
    queueArn: queue.arn,
    client: sqs.client(),
    pool: inProcessPool('FanoutFunction', handler as never, { timeoutMs: options.timeoutMs ?? 20_000 }),
    batchSize: 1,
    batchingWindowMs: 0,
    reportBatchItemFailures: true,
    concurrency: options.concurrency ?? 4,
    region: 'us-east-1',
    log: { info: () => undefined, warn: () => undefined, error: () => undefined, fn: () => undefined, loud: () => undefined },
    onBatch: (b) => batches.push(b),
  });
  sources.push(source);
  source.start();
  return { reports, batches };
};

/** How many times each id got the message with this text. */
const deliveries = (text: string): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const d of management.delivered) if (JSON.parse(d.body).text === text) counts.set(d.connectionId, (counts.get(d.connectionId) ?? 0) + 1);
  return counts;
};

const dlqBodies = async (waitSeconds = 1): Promise<string[]> => {
  const out = await sqsClient.send(new ReceiveMessageCommand({ QueueUrl: queue.dlq, MaxNumberOfMessages: 10, WaitTimeSeconds: waitSeconds }));
  return (out.Messages ?? []).map((m) => m.Body!);
};

describe('spill: toAll past the threshold goes to the queue, one message per shard', () => {
  it('delivers to every connection exactly once: the sender up to its threshold, the workers the rest', async () => {
    const store = await freshStore();
    const everyone = ids(2000, 'all');
    await connectAll(store, everyone);
    const report = await sender(store, 300, (outbox) => outbox.toAll({ type: 'message', text: 'to all' }, { except: everyone[7] })).invoke(everyone[0]!);

    // The sender read a few pages itself, then handed every shard it had not finished to the queue.
    expect(report.sent).toBeGreaterThanOrEqual(300);
    expect(report.sent).toBeLessThan(2000);
    expect(report.spilled).toBeGreaterThan(0);
    expect(report.spilled).toBeLessThanOrEqual(shards);
    expect(report.unresolved).toEqual([]);

    const { reports } = workers(store);
    const expected = everyone.filter((id) => id !== everyone[7]);
    await eventually(() => deliveries('to all').size === expected.length && reports.length >= report.spilled, 'every connection got it', 30_000);
    await new Promise((resolve) => setTimeout(resolve, 300)); // nothing more arrives
    const counts = deliveries('to all');
    expect([...counts.values()].filter((n) => n > 1)).toEqual([]);
    expect(counts.has(everyone[7]!)).toBe(false);
    expect(new Set(counts.keys())).toEqual(new Set(expected));
    // One worker run per spilled shard, each done in one go.
    expect(reports.map((r) => r.fanout.outcome)).toEqual(reports.map(() => 'done'));
    expect(reports.length).toBe(report.spilled);
    expect(reports.reduce((n, r) => n + r.sent, 0) + report.sent).toBe(expected.length);
  }, 60_000);

  it('hands over the shards the first page shows it will not get to before it delivers its own part', async () => {
    const store = await freshStore({ pageSize: 1000 });
    const everyone = ids(1600, 'early'); // ~200 a shard: a threshold of 400 keeps 2 or 3 of the 8 shards
    await connectAll(store, everyone);
    behaviour = () => ({ status: 200, delayMs: 10 });
    const report = await sender(store, 400, (outbox) => outbox.toAll({ type: 'message', text: 'early' })).invoke('sender');
    const fromSender = management.delivered.filter((d) => JSON.parse(d.body).text === 'early');
    expect(report.sent).toBe(fromSender.length);
    const out = await sqsClient.send(
      new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['SentTimestamp'] }),
    );
    expect(out.Messages).toHaveLength(report.spilled);
    const untouched = (out.Messages ?? []).filter((m) => JSON.parse(m.Body!).cursor === undefined);
    expect(untouched.length).toBeGreaterThanOrEqual(shards - 3);
    // They were on the queue before the sender's first delivery came back.
    const first = Math.min(...fromSender.map((d) => d.at));
    for (const m of untouched) expect(Number(m.Attributes!.SentTimestamp)).toBeLessThanOrEqual(first);
  }, 60_000);

  it('hands over the recipients of a spilled entry that the sender itself could not reach', async () => {
    const store = await freshStore({ pageSize: 1000 });
    const everyone = ids(800, 'unlucky');
    await connectAll(store, everyone);
    // Four 503s for a few ids: the sender gives up on them (maxAttempts 4); the fifth try is fine.
    const unlucky = new Set(everyone.filter((_, i) => i % 97 === 0));
    behaviour = (id, attempt) => (unlucky.has(id) && attempt <= 4 ? { status: 503, errorType: 'ServiceUnavailableException' } : { status: 200 });
    const report = await sender(store, 400, (outbox) => outbox.toAll({ type: 'message', text: 'unlucky' })).invoke('sender');
    const failedHere = report.failed.map((f) => f.connectionId);
    expect(failedHere.length).toBeGreaterThan(0);
    expect(report.failed.every((f) => f.reason === 'server')).toBe(true);
    const { reports } = workers(store);
    await eventually(() => deliveries('unlucky').size === everyone.length, 'everyone got it, the unlucky ones from a worker', 30_000);
    expect([...deliveries('unlucky').values()].every((n) => n === 1)).toBe(true);
    await eventually(() => reports.some((r) => r.fanout.read === 0 && r.sent === failedHere.length), 'a worker delivered the hand-over', 10_000);
  }, 60_000);

  it('spills everything at threshold 0, and a toRoom as one message continued from its cursor', async () => {
    const store = await freshStore({ pageSize: 50 });
    const members = ids(300, 'room');
    await connectAll(store, members, { room: 'big' });
    const toAll = await sender(store, 0, (outbox) => outbox.toAll({ type: 'message', text: 'zero' })).invoke(members[0]!);
    expect(toAll).toMatchObject({ sent: 0, spilled: shards });
    const toRoom = await sender(store, 120, (outbox) => outbox.toRoom('big', { type: 'message', text: 'room' })).invoke(members[1]!);
    expect(toRoom.spilled).toBe(1);
    expect(toRoom.sent).toBeGreaterThanOrEqual(120);

    const { reports } = workers(store);
    await eventually(
      () => deliveries('zero').size === 300 && deliveries('room').size === 300 && reports.length === shards + 1,
      'both reached everyone',
      30_000,
    );
    expect([...deliveries('zero').values(), ...deliveries('room').values()].every((n) => n === 1)).toBe(true);
    expect(reports.find((r) => r.fanout.target === 'room')).toMatchObject({ fanout: { room: 'big', outcome: 'done' } });
  }, 60_000);
});

describe('workers that do not finish', () => {
  it('an invocation cut off half way hands its shard on from its cursor: nothing lost, twice only what was cut off in flight', async () => {
    const store = await freshStore({ pageSize: 20 });
    const everyone = ids(1200, 'slow');
    await connectAll(store, everyone);
    // A slow @connections (25 ms a request) and 5 in flight: ~200 a second against a budget of
    // ~0.7 s per invocation (reads stop at ~0.35 s), so every shard (~150 recipients, pages of
    // 20) takes a few invocations. One recipient in ten fails its first two tries with a 500
    // (maxAttempts 2), so it is carried on as a retry.
    behaviour = (id, attempt) => (Number(id.slice(4, 8)) % 10 === 0 && attempt <= 2 ? serverError : { status: 200, delayMs: 25 });
    await sender(store, 0, (outbox) => outbox.toAll({ type: 'message', text: 'slowly' })).invoke('sender');
    const { reports } = workers(store, { timeoutMs: 1200, fanout: { concurrency: 5, maxAttempts: 2, backoff: { baseMs: 5, capMs: 20 } } });
    await eventually(() => deliveries('slowly').size === 1200, 'every connection got it', 45_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    // At least once: a request cut off in flight at an invocation's deadline may have landed, and
    // is sent again by the next invocation (README, "At-least-once delivery"). Those, and only
    // those, may arrive twice; every other recipient exactly once.
    const cutOff = new Set(reports.flatMap((r) => r.failed.filter((f) => f.reason === 'deadline' || f.reason === 'timeout').map((f) => f.connectionId)));
    const twice = [...deliveries('slowly')].filter(([, n]) => n > 1).map(([id]) => id);
    expect(twice.filter((id) => !cutOff.has(id))).toEqual([]);
    expect(twice.length).toBeLessThan(120);
    const continued = reports.filter((r) => r.fanout.outcome === 'continued');
    expect(continued.length).toBeGreaterThan(0);
    // Some continued with a cursor (cut off mid-shard), some carried failed recipients on.
    expect(continued.some((r) => r.fanout.cursor !== undefined)).toBe(true);
    expect(continued.some((r) => r.fanout.retried > 0)).toBe(true);
    expect(reports.some((r) => r.fanout.hop > 0 && r.fanout.outcome === 'done')).toBe(true);
  }, 60_000);

  it('a poisoned shard ends in the dead-letter queue after maxReceiveCount; the others are delivered', async () => {
    const real = await freshStore();
    const everyone = ids(400, 'poison');
    await connectAll(real, everyone);
    const poisoned = 5;
    // The same store, except that shard 5 cannot be read (a corrupt partition, a missing grant…).
    const store: Store = Object.assign(Object.create(real), {
      pagesOf: (target: Parameters<NonNullable<Store['pagesOf']>>[0], options?: Parameters<NonNullable<Store['pagesOf']>>[1]) => {
        if (target.kind === 'all' && target.shard === poisoned) throw new Error('AccessDeniedException: shard 5 is poisoned');
        return real.pagesOf(target, options);
      },
    });
    await sender(real, 0, (outbox) => outbox.toAll({ type: 'message', text: 'poison' })).invoke('sender');
    // And a body that is not a fan-out message at all.
    await sqsClient.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: '{"hello":"world"}' }));
    const { reports } = workers(store);

    const inShard = (shard: number) => everyone.filter((id) => connectionKey(id, shards).pk === `connections#${shard}`);
    await eventually(() => deliveries('poison').size === everyone.length - inShard(poisoned).length, 'the healthy shards were delivered', 30_000);
    const dead: string[] = [];
    await eventually(
      async () => {
        dead.push(...(await dlqBodies()));
        return dead.length >= 2;
      },
      'both poisoned messages reached the dead-letter queue',
      30_000,
    );
    const bodies = dead.map((b) => JSON.parse(b));
    expect(bodies).toEqual(expect.arrayContaining([{ hello: 'world' }, expect.objectContaining({ target: 'all', shard: poisoned, hop: 0 })]));
    // It was tried maxReceiveCount (3) times, each reported in batchItemFailures.
    const tries = reports.filter((r) => r.fanout.shard === poisoned);
    expect(tries.map((r) => r.fanout.outcome)).toEqual(['retry', 'retry', 'retry']);
    expect(tries[0]!.fanout.error).toMatch(/poisoned/);
    expect(inShard(poisoned).some((id) => deliveries('poison').has(id))).toBe(false);
  }, 60_000);
});

describe('410s met by workers', () => {
  it('are pruned, connection and memberships, except rows younger than the $connect grace', async () => {
    const store = await freshStore();
    const members = ids(300, 'gone');
    const old = members.slice(0, 250);
    const young = members.slice(250);
    await connectAll(store, old, { room: 'lobby' });
    await connectAll(store, young, { room: 'lobby', connectedAt: Date.now() });
    const goneIds = new Set([...old.filter((_, i) => i % 5 === 0), ...young.filter((_, i) => i % 5 === 0)]);
    behaviour = (id) => (goneIds.has(id) ? gone : { status: 200 });
    await sender(store, 0, (outbox) => outbox.toRoom('lobby', { type: 'message', text: 'roll call' })).invoke('sender');
    const { reports } = workers(store);
    await eventually(() => reports.length > 0 && reports.every((r) => r.fanout.outcome === 'done'), 'the room was delivered', 30_000);

    const report = reports[0]!;
    expect(report.gone.sort()).toEqual([...goneIds].sort());
    expect(report.pruned).toBe(old.filter((id) => goneIds.has(id)).length);
    expect(report.unpruned).toEqual(young.filter((id) => goneIds.has(id)).map((connectionId) => ({ connectionId, reason: 'connecting' })));
    for (const id of goneIds) {
      const row = (await db.documentClient.send(new GetCommand({ TableName: store.tableName, Key: connectionKey(id, shards) }))).Item;
      const membership = (await db.documentClient.send(new GetCommand({ TableName: store.tableName, Key: membershipKey('lobby', id) }))).Item;
      if (young.includes(id)) {
        expect(row).toBeDefined(); // its $connect may still be running: kept
        expect(membership).toBeDefined();
      } else {
        expect(row).toBeUndefined();
        expect(membership).toBeUndefined();
      }
    }
    expect(await store.get(old[1]!)).toBeDefined();
  }, 60_000);
});
