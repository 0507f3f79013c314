import { BatchGetCommand, BatchWriteCommand, type DocumentClient } from './dynamodb/document-client.ts';
import { forEachBounded } from '../bounded.ts';
import { backoffDelay, sleep } from '../outbox/backoff.ts';

type Key = Record<string, unknown>;
export type WriteRequest = { DeleteRequest: { Key: Key } } | { PutRequest: { Item: Record<string, unknown> } };

export interface BatchOptions {
  /** Attempts for the leftovers DynamoDB hands back (UnprocessedItems / UnprocessedKeys). */
  maxAttempts: number;
  baseDelayMs: number;
  /** No single wait is longer: the prune runs at the end of the invocation's budget. */
  maxDelayMs: number;
  /** Batches in flight at once: a prune of 1,000 connections is ~40 BatchWriteItem calls. */
  parallel: number;
  sleep: (ms: number) => Promise<void>;
}

export const batchDefaults: BatchOptions = {
  maxAttempts: 8,
  baseDelayMs: 25,
  maxDelayMs: 200,
  parallel: 8,
  sleep,
};

/** What a batch operation did not get done, and why. It never throws for that. */
export interface BatchOutcome<T> {
  calls: number;
  /** Requests (or keys) left: aborted before they were sent, failed, or still unprocessed after maxAttempts. */
  left: T[];
  /** The first error met (none when the only reason was the abort). */
  error?: unknown;
}

/** BatchWriteItem takes at most 25 requests; BatchGetItem at most 100 keys. */
export const maxWriteBatch = 25;
const maxGetBatch = 100;

const chunksOf = <T>(items: T[], size: number): T[][] => {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
};

// Full-jitter exponential backoff between retries of the leftovers, as AWS advises for batches:
// the engine's own backoff, capped.
const pause = (attempt: number, options: BatchOptions) =>
  options.sleep(backoffDelay(attempt + 1, false, { baseMs: options.baseDelayMs, throttledBaseMs: options.baseDelayMs, capMs: options.maxDelayMs }));

/**
 * Sends the items in chunks, `parallel` chunks at once, each chunk then whatever DynamoDB hands
 * back unprocessed, with backoff, until nothing is left. Once `signal` aborts no call starts, and
 * the calls in flight are aborted; everything not done is returned in `left`.
 */
const inBatches = async <T>(
  items: T[],
  size: number,
  send: (pending: T[], signal?: AbortSignal) => Promise<T[]>,
  what: string,
  options: BatchOptions,
  signal: AbortSignal | undefined,
  onDone?: (done: T[]) => void,
): Promise<BatchOutcome<T>> => {
  const outcome: BatchOutcome<T> = { calls: 0, left: [] };
  await forEachBounded(chunksOf(items, size), options.parallel, async (chunk) => {
    let pending = chunk;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (signal?.aborted) break;
      if (attempt >= options.maxAttempts) {
        outcome.error ??= new Error(`${what} left ${pending.length} unprocessed after ${options.maxAttempts} attempts`);
        break;
      }
      if (attempt > 0) await pause(attempt, options);
      if (signal?.aborted) break;
      outcome.calls++;
      try {
        const sent = pending;
        pending = await send(pending, signal);
        if (onDone !== undefined) {
          const unprocessed = new Set(pending);
          onDone(sent.filter((item) => !unprocessed.has(item)));
        }
      } catch (error) {
        if (!signal?.aborted) outcome.error ??= error;
        break;
      }
    }
    outcome.left.push(...pending);
  });
  return outcome;
};

/** Writes requests 25 at a time, retrying whatever comes back unprocessed. */
export const batchWrite = (
  client: DocumentClient,
  table: string,
  requests: WriteRequest[],
  options = batchDefaults,
  signal?: AbortSignal,
  onWritten?: (done: WriteRequest[]) => void,
): Promise<BatchOutcome<WriteRequest>> =>
  inBatches(
    requests,
    maxWriteBatch,
    async (pending, abortSignal) => {
      const out = await client.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }), { abortSignal });
      // DynamoDB hands back copies of the unprocessed requests: map them to the ones sent, by key.
      const unprocessed = new Set(((out.UnprocessedItems?.[table] ?? []) as WriteRequest[]).map((r) => JSON.stringify(r)));
      return pending.filter((r) => unprocessed.has(JSON.stringify(r)));
    },
    'BatchWriteItem',
    options,
    signal,
    onWritten,
  );

/** Reads keys 100 at a time, retrying unprocessed keys. */
export const batchGet = async (
  client: DocumentClient,
  table: string,
  keys: Key[],
  projection: { ProjectionExpression: string; ExpressionAttributeNames?: Record<string, string> },
  options = batchDefaults,
  signal?: AbortSignal,
): Promise<BatchOutcome<Key> & { items: Record<string, unknown>[] }> => {
  const items: Record<string, unknown>[] = [];
  const outcome = await inBatches(
    keys,
    maxGetBatch,
    async (pending, abortSignal) => {
      const out = await client.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ...projection } } }), { abortSignal });
      items.push(...(out.Responses?.[table] ?? []));
      return (out.UnprocessedKeys?.[table]?.Keys ?? []) as Key[];
    },
    'BatchGetItem',
    options,
    signal,
  );
  return { ...outcome, items };
};
