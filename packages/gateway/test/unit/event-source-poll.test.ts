// A ReceiveMessage that never answers (a socket gone quiet) must not hold the event source for
// good: it is cut past its long poll and a margin, said in a line, and the next poll delivers.
import { expect, test } from '@jest/globals';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { SqsEventSource } from '../../src/event-sources.ts';
import { createLogger } from '../../src/log.ts';

test('a hung poll is cut, logged, and polling goes on to deliver the message', async () => {
  const lines: string[] = [];
  let receives = 0;
  let deliveredMessage = false;
  // The first ReceiveMessage hangs until aborted; the next returns the message once; then empty.
  const client = {
    send: (command: { constructor: { name: string } }, options?: { abortSignal?: AbortSignal }) => {
      if (command.constructor.name === 'DeleteMessageBatchCommand') return Promise.resolve({});
      receives++;
      if (receives === 1) {
        return new Promise((_resolve, reject) => options?.abortSignal?.addEventListener('abort', () => reject(options.abortSignal!.reason)));
      }
      if (deliveredMessage) return new Promise((resolve) => setTimeout(() => resolve({ Messages: [] }), 20));
      deliveredMessage = true;
      return Promise.resolve({ Messages: [{ MessageId: 'm1', ReceiptHandle: 'r1', Body: 'hello', Attributes: {}, MD5OfBody: '' }] });
    },
  } as unknown as SQSClient;
  const invoked: unknown[] = [];
  const source = new SqsEventSource({
    name: 'Reader/Queue',
    queueUrl: 'http://127.0.0.1:1/000000000000/q',
    queueArn: 'arn:aws:sqs:us-east-1:000000000000:q',
    client,
    pool: {
      name: 'Reader',
      invoke: async (event: unknown) => {
        invoked.push(event);
        return { status: 'ok', requestId: 'req', result: null, durationMs: 1 };
      },
    },
    batchSize: 1,
    batchingWindowMs: 0,
    reportBatchItemFailures: false,
    concurrency: 1,
    region: 'us-east-1',
    log: createLogger({ write: (text) => lines.push(text) }),
    pollMarginSeconds: 0,
  });
  source.start();
  const deadline = Date.now() + 10_000;
  while (invoked.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  await source.stop();
  expect(invoked).toHaveLength(1);
  expect((invoked[0] as { Records: { body: string }[] }).Records[0]!.body).toBe('hello');
  expect(lines.join('')).toMatch(/Reader\/Queue: polling http:\/\/127\.0\.0\.1:1\/000000000000\/q failed/);
  expect(lines.join('')).toMatch(/SQS +Reader\/Queue 1 record\(s\) → OK/);
}, 20_000);
