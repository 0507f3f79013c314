import { ChangeMessageVisibilityCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { forEachBounded } from '../bounded.ts';
import { bytesOf, maxMessageBytes } from './message.ts';

/** Sends fan-out messages to the queue. Never throws for what it could not send: that is in `failed`. */
export interface QueueSender {
  send(bodies: string[], signal?: AbortSignal): Promise<SendOutcome>;
}

export interface SendOutcome {
  /** Indexes (into the bodies given) of the messages that are not on the queue. */
  failed: number[];
  /** The first error met. */
  error?: string;
}

/** SendMessageBatch takes at most 10 messages, and 256 KiB in all. */
const maxBatchEntries = 10;

/** Groups indexes into batches SQS accepts: at most 10 messages and 256 KiB a batch. */
export const batchesOf = (bodies: string[]): number[][] => {
  const batches: number[][] = [];
  let batch: number[] = [];
  let bytes = 0;
  bodies.forEach((body, i) => {
    const size = bytesOf(body);
    if (batch.length === maxBatchEntries || (batch.length > 0 && bytes + size > maxMessageBytes)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(i);
    bytes += size;
  });
  if (batch.length > 0) batches.push(batch);
  return batches;
};

let sharedClient: SQSClient | undefined;
/**
 * One client per process, reused across warm invocations. An empty AWS_ENDPOINT_URL_SQS (as SAM
 * templates declare it) means "not set". Given explicitly, the endpoint also stops the SDK from
 * sending to the queue URL's own host (locally, fauxqs names queues sqs.<region>.localhost).
 */
// (Imported statically on purpose: esbuild then keeps only the two commands used, ~40 KB; a
// dynamic import would bundle the whole client.)
export const defaultSqsClient = (): SQSClient => (sharedClient ??= new SQSClient({
  endpoint: process.env.AWS_ENDPOINT_URL_SQS || undefined,
  requestHandler: new NodeHttpHandler({ connectionTimeout: 1000, requestTimeout: 3000, throwOnRequestTimeout: true }),
}));

/** Makes a message of the fan-out queue visible again after `seconds` (best effort). */
export const changeVisibility = (queueUrl: string, receiptHandle: string, seconds: number): Promise<unknown> =>
  defaultSqsClient().send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds }));

export const sqsSender = (queueUrl: string, client: () => SQSClient = defaultSqsClient): QueueSender => ({
  async send(bodies, signal) {
    const outcome: SendOutcome = { failed: [] };
    const fail = (indexes: number[], error: unknown) => {
      outcome.failed.push(...indexes);
      outcome.error ??= String((error as Error)?.message ?? error);
    };
    const tooLarge = bodies.map((body, i) => (bytesOf(body) > maxMessageBytes ? i : -1)).filter((i) => i >= 0);
    if (tooLarge.length > 0) fail(tooLarge, `a fan-out message is over SQS's ${maxMessageBytes} bytes (payload and except list too large)`);
    const sendable = bodies.map((_, i) => i).filter((i) => !tooLarge.includes(i));
    const batches = batchesOf(sendable.map((i) => bodies[i]!)).map((batch) => batch.map((k) => sendable[k]!));
    await forEachBounded(batches, 4, async (batch) => {
      if (signal?.aborted) return fail(batch, 'the flush deadline passed before the fan-out message was sent');
      try {
        const out = await client().send(new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: batch.map((i) => ({ Id: `m${i}`, MessageBody: bodies[i]! })),
        }), { abortSignal: signal });
        for (const failed of out.Failed ?? []) fail([Number(failed.Id?.slice(1))], `${failed.Code}: ${failed.Message}`);
      } catch (error) {
        fail(batch, error);
      }
    });
    outcome.failed.sort((a, b) => a - b);
    return outcome;
  },
});
