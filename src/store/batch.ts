import { BatchGetCommand, BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { backoffDelay, sleep } from '../outbox/backoff.ts';

type Key = Record<string, unknown>;
type WriteRequest = { DeleteRequest: { Key: Key } } | { PutRequest: { Item: Record<string, unknown> } };

export interface BatchOptions {
  /** Attempts for the leftovers DynamoDB hands back (UnprocessedItems / UnprocessedKeys). */
  maxAttempts: number;
  baseDelayMs: number;
  /** No single wait is longer: the prune runs inside the invocation's safety margin. */
  maxDelayMs: number;
  sleep: (ms: number) => Promise<void>;
}

export const batchDefaults: BatchOptions = {
  maxAttempts: 8,
  baseDelayMs: 25,
  maxDelayMs: 200,
  sleep,
};

/** BatchWriteItem takes at most 25 requests; BatchGetItem at most 100 keys. */
export const maxWriteBatch = 25;
const maxGetBatch = 100;

function* chunks<T>(items: T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

// Full-jitter exponential backoff between retries of the leftovers, as AWS advises for batches:
// the engine's own backoff, capped.
const pause = (attempt: number, options: BatchOptions) =>
  options.sleep(backoffDelay(attempt + 1, false, { baseMs: options.baseDelayMs, throttledBaseMs: options.baseDelayMs, capMs: options.maxDelayMs }));

/**
 * Sends one chunk and then whatever DynamoDB hands back unprocessed, with backoff, until nothing
 * is left. Returns the calls made.
 */
const untilProcessed = async <T>(chunk: T[], send: (pending: T[]) => Promise<T[]>, what: string, options: BatchOptions): Promise<number> => {
  let pending = chunk;
  let calls = 0;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt >= options.maxAttempts) throw new Error(`${what} left ${pending.length} unprocessed after ${options.maxAttempts} attempts`);
    if (attempt > 0) await pause(attempt, options);
    calls++;
    pending = await send(pending);
  }
  return calls;
};

/** Writes requests 25 at a time, retrying whatever comes back unprocessed. Returns the calls made. */
export const batchWrite = async (client: DynamoDBDocumentClient, table: string, requests: WriteRequest[], options = batchDefaults): Promise<number> => {
  let calls = 0;
  for (const chunk of chunks(requests, maxWriteBatch)) {
    calls += await untilProcessed(chunk, async (pending) => {
      const out = await client.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
      return (out.UnprocessedItems?.[table] ?? []) as WriteRequest[];
    }, 'BatchWriteItem', options);
  }
  return calls;
};

/** Reads keys 100 at a time, retrying unprocessed keys. Returns the items and the calls made. */
export const batchGet = async (
  client: DynamoDBDocumentClient,
  table: string,
  keys: Key[],
  projection: { ProjectionExpression: string; ExpressionAttributeNames?: Record<string, string> },
  options = batchDefaults,
): Promise<{ items: Record<string, unknown>[]; calls: number }> => {
  const items: Record<string, unknown>[] = [];
  let calls = 0;
  for (const chunk of chunks(keys, maxGetBatch)) {
    calls += await untilProcessed(chunk, async (pending) => {
      const out = await client.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ...projection } } }));
      items.push(...(out.Responses?.[table] ?? []));
      return (out.UnprocessedKeys?.[table]?.Keys ?? []) as Key[];
    }, 'BatchGetItem', options);
  }
  return { items, calls };
};
