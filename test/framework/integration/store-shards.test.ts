// The sharded connection index on dynalite: rows spread over connections#<k> by a hash of the id,
// all() reading every shard (in parallel, bounded, one page ahead) and returning each live
// connection exactly once, also while connections come and go during the read.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BatchWriteCommand, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ConnectionStore, MemoryStore } from '../../../src/index.ts';
import { connectionKey, connectionsPartition } from '../../../src/store/keys.ts';
import { connectionShards, defaultConnectionShards, fnv1a, shardOf } from '../../../src/store/shards.ts';
import type { Page } from '../../../src/store/store.ts';
import { documentClientOf } from '../../../src/store/dynamodb/document-client.ts';
import { startDynalite, storeClientKinds, type DynaliteHandle, type StoreClientKind } from '../../helpers/dynalite.ts';

let db: DynaliteHandle;
beforeAll(async () => {
  db = await startDynalite('store-shards-test');
});
afterAll(async () => {
  await db?.stop();
});

const collect = async <T>(it: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};

/** A client (the store's of that kind) that counts Query requests and how many were in flight at once. */
const countingClient = (kind: StoreClientKind) => {
  const inner = documentClientOf(db.storeClient(kind));
  const stats = { queries: 0, inFlight: 0, maxInFlight: 0 };
  const client = {
    send: async (command: { constructor: { name: string } }, options?: unknown) => {
      const query = command.constructor.name === 'QueryCommand';
      if (query) {
        stats.queries++;
        stats.inFlight++;
        stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      }
      try {
        return await inner.send(command as never, options as never);
      } finally {
        if (query) stats.inFlight--;
      }
    },
  };
  return { client: client as never, stats };
};

const putRows = async (ids: string[], shards: number, connectedAt = Date.now()) => {
  const ttl = Math.floor(Date.now() / 1000) + 3600;
  for (let i = 0; i < ids.length; i += 25) {
    const items = ids.slice(i, i + 25).map((id) => ({ PutRequest: { Item: { ...connectionKey(id, shards), ttl, connectedAt } } }));
    await db.documentClient.send(new BatchWriteCommand({ RequestItems: { [db.tableName]: items } }));
  }
};

describe('shard of a connection id', () => {
  it('is FNV-1a of the UTF-8 bytes, mod K, and the same for ASCII and non-ASCII paths', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c); // the published FNV-1a 32-bit test vector
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
    // Non-ASCII ids hash their UTF-8 bytes (é = c3 a9), as another language's FNV-1a would.
    let expected = 0x811c9dc5;
    for (const byte of [0xc3, 0xa9]) expected = Math.imul(expected ^ byte, 0x01000193);
    expect(fnv1a('é')).toBe(expected >>> 0);
    expect(shardOf('Xb1CdcwFoAMCJdw=', 16)).toBe(fnv1a('Xb1CdcwFoAMCJdw=') % 16);
  });

  it('spreads API Gateway-shaped ids evenly over the shards', () => {
    const counts = new Array(16).fill(0);
    for (let i = 0; i < 16_000; i++) counts[shardOf(Buffer.from(`conn-${i}-${i * 7919}`).toString('base64'), 16)]++;
    expect(Math.min(...counts)).toBeGreaterThan(850);
    expect(Math.max(...counts)).toBeLessThan(1150);
  });

  it('K comes from the option, else CONNECTION_SHARDS, else the default; nonsense is a clear error', () => {
    expect(connectionShards(undefined, {})).toBe(defaultConnectionShards);
    expect(connectionShards(undefined, { CONNECTION_SHARDS: '4' })).toBe(4);
    expect(connectionShards(8, { CONNECTION_SHARDS: '4' })).toBe(8);
    expect(() => connectionShards(undefined, { CONNECTION_SHARDS: 'many' })).toThrow(/CONNECTION_SHARDS must be an integer >= 1; got many/);
    expect(() => connectionShards(0)).toThrow(/shards must be an integer >= 1/);
    expect(() => connectionShards(2.5)).toThrow(TypeError);
    expect(() => connectionShards(5000)).toThrow(/at most 1024/);
    expect(() => new ConnectionStore({ tableName: 't', client: db.documentClient, readConcurrency: 0 })).toThrow(/readConcurrency/);
  });
});

describe.each(storeClientKinds)('ConnectionStore, sharded (%s client)', (kind) => {
  it('writes each connection row to connections#<shardOf(id)>, and finds it by id alone', async () => {
    const store = new ConnectionStore({ tableName: db.tableName, client: db.storeClient(kind), shards: 8 });
    const ids = Array.from({ length: 40 }, (_, i) => `place-${i}`);
    for (const id of ids) await store.connect(id, { name: 'n' });
    await store.join('place-3', 'lobby');
    for (const id of ids) {
      const { Item } = await db.documentClient.send(new GetCommand({ TableName: db.tableName, Key: { pk: `connections#${shardOf(id, 8)}`, sk: id } }));
      expect(Item).toMatchObject({ name: 'n' });
    }
    // Spread: more than one shard holds rows, and no row sits in the unsharded partition.
    const used = new Set(ids.map((id) => shardOf(id, 8)));
    expect(used.size).toBeGreaterThan(4);
    const legacy = await db.documentClient.send(
      new QueryCommand({ TableName: db.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'connections' } }),
    );
    expect(legacy.Items).toEqual([]);
    expect(await store.roomsOf('place-3')).toEqual(['lobby']);
    const removed = await store.remove(ids);
    expect(removed).toMatchObject({ connections: 40, left: [] });
    expect(await collect(store.all())).toEqual([]);
  });

  it('all() reads every shard to its end: 3,000 rows in pages of 50, each id once, at most readConcurrency Queries at a time', async () => {
    const ids = Array.from({ length: 3000 }, (_, i) => `many-${i}`);
    await putRows(ids, 16);
    const { client, stats } = countingClient(kind);
    const store = new ConnectionStore({ tableName: db.tableName, client, pageSize: 50, readConcurrency: 4 });
    const read = await collect(store.all());
    expect(read).toHaveLength(3000);
    expect(new Set(read)).toEqual(new Set(ids));
    expect(stats.maxInFlight).toBeGreaterThan(1);
    expect(stats.maxInFlight).toBeLessThanOrEqual(4);
    await store.remove(ids);
  });

  it('reads the next page of a shard while the current one is being delivered', async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `ahead-${String(i).padStart(2, '0')}`);
    await putRows(ids, 1);
    const { client, stats } = countingClient(kind);
    const store = new ConnectionStore({ tableName: db.tableName, client, pageSize: 10, readConcurrency: 1, shards: 1 });
    const iterator = store.all()[Symbol.asyncIterator]();
    await iterator.next(); // the first id of the first page
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Nothing more was asked of all(), yet the second page's Query has already gone out.
    expect(stats.queries).toBe(2);
    await iterator.return?.(undefined);
    await store.remove(ids);
  });

  it('pagesOf resumes from a cursor: the pages after it are the rest of the shard, nothing twice', async () => {
    const ids = Array.from({ length: 95 }, (_, i) => `cur-${String(i).padStart(3, '0')}`);
    await putRows(ids, 1);
    const store = new ConnectionStore({ tableName: db.tableName, client: db.storeClient(kind), pageSize: 20, shards: 1 });
    const all: Page[] = await collect(store.pagesOf({ kind: 'all', shard: 0 }));
    expect(all.map((p) => p.ids.length)).toEqual([20, 20, 20, 20, 15]);
    expect(all.at(-1)!.cursor).toBeUndefined();
    const rest = await collect(store.pagesOf({ kind: 'all', shard: 0 }, { cursor: all[1]!.cursor }));
    expect(rest.flatMap((p) => p.ids)).toEqual(all.slice(2).flatMap((p) => p.ids));
    await expect(collect(store.pagesOf({ kind: 'all', shard: 1 }))).rejects.toThrow(/shard 1 is not one of this store's 1 shards/);
    await expect(collect(store.pagesOf({ kind: 'all', shard: 0 }, { cursor: '' }))).rejects.toThrow(/cursor is a non-empty string/);
    await expect(collect(store.pagesOf({ kind: 'nope' } as never))).rejects.toThrow(TypeError);
    await store.remove(ids);
  });

  it('all() returns every connection exactly once while others connect and disconnect during the read', async () => {
    const shards = 16;
    const stable = Array.from({ length: 2000 }, (_, i) => `stable-${i}`);
    const leaving = Array.from({ length: 400 }, (_, i) => `leaving-${i}`);
    const arriving = Array.from({ length: 400 }, (_, i) => `arriving-${i}`);
    await putRows([...stable, ...leaving], shards);
    const writer = new ConnectionStore({ tableName: db.tableName, client: db.storeClient(kind), shards });
    const reader = new ConnectionStore({ tableName: db.tableName, client: db.storeClient(kind), shards, pageSize: 25 });

    let reading = true;
    let churned = 0;
    const afterRead = new Set<string>(); // ids whose connect or disconnect began only after the read ended
    const lane = async (from: number) => {
      // Connects and disconnects interleaved with the reader's pages, in 8 lanes.
      for (let i = from; i < 400; i += 8) {
        if (!reading) afterRead.add(arriving[i]!).add(leaving[i]!);
        await Promise.all([writer.connect(arriving[i]!), writer.disconnect(leaving[i]!)]);
        churned++;
      }
    };
    const churn = Promise.all(Array.from({ length: 8 }, (_, i) => lane(i)));
    const seen: string[] = [];
    for await (const id of reader.all()) {
      seen.push(id);
      if (seen.length % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    reading = false;
    const churnedDuringRead = churned;
    await churn;

    expect(seen.length).toBe(new Set(seen).size); // nobody twice
    const known = new Set([...stable, ...leaving, ...arriving]);
    expect(seen.filter((id) => !known.has(id))).toEqual([]); // nobody who never connected
    expect(stable.filter((id) => !seen.includes(id))).toEqual([]); // everyone connected throughout
    // The churn really overlapped the read: connects and disconnects ran while the shards were read.
    expect(churnedDuringRead).toBeGreaterThan(40);
    expect(afterRead.size).toBeGreaterThan(0);
    // Whoever connected only after the read was not read; whoever left only after it was.
    for (const id of arriving.filter((x) => afterRead.has(x))) expect(seen).not.toContain(id);
    for (const id of leaving.filter((x) => afterRead.has(x))) expect(seen).toContain(id);
    await writer.remove([...stable, ...leaving, ...arriving]);
  }, 60_000);

  it('an aborted all() stops reading every shard', async () => {
    const ids = Array.from({ length: 400 }, (_, i) => `abort-${i}`);
    await putRows(ids, 16);
    const { client, stats } = countingClient(kind);
    const store = new ConnectionStore({ tableName: db.tableName, client, pageSize: 10 });
    const controller = new AbortController();
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const id of store.all({ signal: controller.signal })) {
          seen.push(id);
          if (seen.length === 30) controller.abort();
        }
      })(),
    ).rejects.toThrow();
    const after = stats.queries;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stats.queries).toBe(after);
    expect(stats.queries).toBeLessThan(20);
    await store.remove(ids);
  });
});

describe('MemoryStore, the same pages', () => {
  it('pages each shard (and a room) by id, from a cursor, like ConnectionStore', async () => {
    const store = new MemoryStore({ shards: 4, pageSize: 3 });
    const ids = Array.from({ length: 30 }, (_, i) => `m${String(i).padStart(2, '0')}`);
    for (const id of ids) await store.connect(id);
    for (const id of ids.slice(0, 10)) await store.join(id, 'r');
    const shardIds: string[] = [];
    for (let shard = 0; shard < 4; shard++) {
      const pages = await collect(store.pagesOf({ kind: 'all', shard }));
      for (const id of pages.flatMap((p) => p.ids)) expect(shardOf(id, 4)).toBe(shard);
      shardIds.push(...pages.flatMap((p) => p.ids));
      if (pages.length > 1) {
        const rest = await collect(store.pagesOf({ kind: 'all', shard }, { cursor: pages[0]!.cursor }));
        expect(rest.flatMap((p) => p.ids)).toEqual(pages.slice(1).flatMap((p) => p.ids));
      }
    }
    expect(shardIds.sort()).toEqual(ids);
    expect((await collect(store.pagesOf({ kind: 'room', room: 'r' }))).flatMap((p) => p.ids)).toEqual(ids.slice(0, 10));
    await expect(collect(store.pagesOf({ kind: 'all', shard: 4 }))).rejects.toThrow(RangeError);
  });
});

// The partition names are part of the layout users may query by hand.
it('names the shards connections#0 … connections#<K-1>', () => {
  expect(connectionsPartition(0)).toBe('connections#0');
  expect(connectionKey('abc', 16)).toEqual({ pk: `connections#${shardOf('abc', 16)}`, sk: 'abc' });
});
