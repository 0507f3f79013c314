// The store's batch retries: leftovers DynamoDB hands back are retried with the engine's jittered
// backoff, capped so that a prune fits the invocation's safety margin, and given up with a clear
// error after maxAttempts.
import { describe, expect, it } from '@jest/globals';
import { batchWrite } from '../../../src/store/batch.ts';
import { ConnectionStore } from '../../../src/store/connection-store.ts';

/** A DocumentClient that never processes anything: every request comes back unprocessed. */
const stuckClient = (table: string) => ({
  calls: 0,
  async send(command: { input: { RequestItems: Record<string, unknown[]> } }) {
    this.calls++;
    return { UnprocessedItems: { [table]: command.input.RequestItems[table] } };
  },
});

describe('batchWrite retries', () => {
  it('waits at most maxDelayMs between attempts, then gives up naming what was left', async () => {
    const waits: number[] = [];
    const client = stuckClient('t');
    const requests = Array.from({ length: 3 }, (_, i) => ({ DeleteRequest: { Key: { pk: 'connections', sk: `id${i}` } } }));
    const out = await batchWrite(client as never, 't', requests, {
      maxAttempts: 8,
      baseDelayMs: 25,
      maxDelayMs: 200,
      parallel: 8,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    expect((out.error as Error).message).toBe('BatchWriteItem left 3 unprocessed after 8 attempts');
    expect(out.left).toEqual(requests);
    expect(client.calls).toBe(8);
    expect(waits).toHaveLength(7);
    for (const ms of waits) expect(ms).toBeLessThanOrEqual(200);
    // Uncapped, the 7th wait alone could reach 25 * 2^7 = 3,200 ms.
    expect(waits.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(7 * 200);
  });
});

describe('ConnectionStore batch options', () => {
  it('an option passed as undefined keeps its default; nonsense is refused', () => {
    const client = stuckClient('t') as never;
    expect(() => new ConnectionStore({ tableName: 'tbl', client, batch: { maxAttempts: undefined, sleep: undefined } })).not.toThrow();
    expect(() => new ConnectionStore({ tableName: 'tbl', client, batch: { maxAttempts: 0 } })).toThrow(
      new TypeError('ConnectionStore batch.maxAttempts must be an integer >= 1; got 0'),
    );
  });
});
