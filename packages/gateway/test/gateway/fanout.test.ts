// The fan-out through the local gateway, as on AWS: a toAll past its threshold spills to the
// embedded SQS, the gateway's event source mapping invokes FanoutFunction's bundle in worker
// processes frozen between invocations, and real WebSocket clients receive. One worker is killed
// half way through a shard: the mapping deletes nothing for it, the message comes back after the
// queue's visibility timeout, and the retry delivers the shard (what was posted before the crash
// arrives twice: at least once, as documented).
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import type { BatchReport } from '../../src/event-sources.ts';
import { sqsClientFor } from '../../src/sqs.ts';
import { eventually, TestClient } from './support.ts';

let gateway: Gateway;
let dir: string;
const clients: TestClient[] = [];
const batches: BatchReport[] = [];
const lines: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gw-fanout-'));
  gateway = await startGateway({
    template: 'test/fixtures/fanout-template.yaml',
    port: 0,
    dynamodbPort: 0,
    sqsPort: 0,
    outdir: join(dir, 'dist'),
    parameters: { CrashMarker: join(dir, 'crashed') },
    quiet: process.env.GATEWAY_LOG === undefined,
    logger: {
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
      loud: () => undefined,
      fn: (_prefix, line) => {
        lines.push(line);
      },
    },
  });
  gateway.events.on('event-source', (b: BatchReport) => batches.push(b));
  for (let i = 0; i < 60; i += 10) clients.push(...(await Promise.all(Array.from({ length: 10 }, () => TestClient.open(gateway.wsUrl)))));
}, 90_000);

afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await gateway?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a toAll spilled to the workers reaches every client; a worker killed half way is retried from the queue', async () => {
  const shouter = clients[0]!;
  shouter.send({ action: 'shout', text: 'hello all' });
  const copies = () => clients.map((c) => c.matching((d) => d?.type === 'shout' && d.text === 'hello all').length);
  await eventually(() => copies().every((n) => n >= 1), 'every client got the shout', 45_000);
  // The killed invocation's message comes back after the queue's visibility timeout (3 s) and is
  // done then (its shard may have been delivered in full before the crash: it is redone anyway).
  const crashedRecord = () => batches.find((b) => b.status === 'error')?.records[0];
  await eventually(
    () => crashedRecord() !== undefined && batches.some((b) => b.status === 'ok' && b.records.includes(crashedRecord()!)),
    'the killed shard was retried',
    20_000,
  );
  await eventually(() => Date.now() - lastBatchAt > 1000, 'the workers went quiet', 20_000);

  // The sender sent to a few itself and spilled the rest: one message per shard it did not finish.
  const sent = lines
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return undefined;
      }
    })
    .filter(Boolean);
  const senderReport = sent.find((r) => r.msg === 'ws-outbox delivery report' && r.routeKey === 'shout');
  expect(senderReport.spilled).toBeGreaterThan(0);
  expect(senderReport.sent).toBeGreaterThanOrEqual(5);
  // Each spilled shard ran on FanoutFunction; one invocation was killed (status error: nothing
  // deleted), and its message came back and was done.
  expect(existsSync(join(dir, 'crashed'))).toBe(true);
  const crashed = batches.filter((b) => b.status === 'error');
  expect(crashed).toHaveLength(1);
  expect(crashed[0]!.failed).toEqual(crashed[0]!.records);
  const retried = batches.filter((b) => b.status === 'ok' && b.records.includes(crashed[0]!.records[0]!));
  expect(retried).toHaveLength(1);
  expect(retried[0]!.failed).toEqual([]);
  const workerReports = sent.filter((r) => r.msg === 'ws-outbox fanout report');
  expect(workerReports.filter((r) => r.fanout.outcome === 'done')).toHaveLength(senderReport.spilled);
  expect(workerReports.find((r) => r.fanout.receiveCount === 2)).toBeDefined();

  // Everyone exactly once, but for what the killed invocation had posted (it posts one at a time
  // and died after its second): those two arrive twice, since the retry starts from the same cursor.
  expect(
    copies()
      .filter((n) => n !== 1)
      .sort(),
  ).toEqual([2, 2]);
  expect(gateway.lateSends).toEqual([]);

  // Nothing reached the dead-letter queue.
  const sqs = sqsClientFor(gateway.sqsEndpoint!, 'us-east-1');
  const dead = await sqs.send(new ReceiveMessageCommand({ QueueUrl: gateway.queues.get('FanoutDeadLetterQueue')!.url, WaitTimeSeconds: 0 }));
  sqs.destroy();
  expect(dead.Messages ?? []).toEqual([]);
}, 90_000);

let lastBatchAt = 0;
beforeAll(() => {
  gateway.events.on('event-source', () => {
    lastBatchAt = Date.now();
  });
});
