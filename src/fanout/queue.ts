import type { SQSClient } from '@aws-sdk/client-sqs';
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

// The SDK's SQS client is loaded on first use (sqs-client.ts): most invocations never touch the queue.
const sqs = () => import('./sqs-client.ts');

/** The process's SQS client (AWS_ENDPOINT_URL_SQS honoured), loaded on first use. */
export const defaultSqsClient = async (): Promise<SQSClient> => (await sqs()).defaultSqsClient();

/** Makes a message of the fan-out queue visible again after `seconds` (best effort). */
export const changeVisibility = async (queueUrl: string, receiptHandle: string, seconds: number): Promise<unknown> => {
  const { ChangeMessageVisibilityCommand, defaultSqsClient: client } = await sqs();
  return client().send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds }));
};

export const sqsSender = (queueUrl: string, client: () => SQSClient | Promise<SQSClient> = defaultSqsClient): QueueSender => ({
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
        const { SendMessageBatchCommand } = await sqs();
        const out = await (await client()).send(
          new SendMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: batch.map((i) => ({ Id: `m${i}`, MessageBody: bodies[i]! })),
          }),
          { abortSignal: signal },
        );
        for (const failed of out.Failed ?? []) fail([Number(failed.Id?.slice(1))], `${failed.Code}: ${failed.Message}`);
      } catch (error) {
        fail(batch, error);
      }
    });
    outcome.failed.sort((a, b) => a - b);
    return outcome;
  },
});
