import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connectionKey } from '../../../src/store/keys.ts';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ConnectionStore, NotConnectedError } from '../../../src/store/index.ts';
import { BatchWriteCommand as StoreBatchWriteCommand, documentClientOf } from '../../../src/store/dynamodb/document-client.ts';
import { startDynalite, storeClientKinds, type DynaliteHandle } from '../../helpers/dynalite.ts';

// The DynamoDB store against a real DynamoDB-protocol server (dynalite) on loopback, on both of
// its clients: the SDK's DynamoDBDocumentClient and the lean one (src/store/dynamodb/).

let db: DynaliteHandle;
beforeAll(async () => {
  db = await startDynalite('store-test');
});
afterAll(async () => {
  await db?.stop();
});

const collect = async (it: AsyncIterable<string>) => {
  const out: string[] = [];
  for await (const x of it) out.push(x);
  return out;
};

// Writes rows directly, 25 per BatchWriteItem, for large fixtures.
const putAll = async (items: Record<string, unknown>[]) => {
  for (let i = 0; i < items.length; i += 25) {
    await db.documentClient.send(new BatchWriteCommand({ RequestItems: { [db.tableName]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }));
  }
};

describe.each(storeClientKinds)('ConnectionStore on dynalite (%s client)', (kind) => {
  // The store's client, as a store of this suite gets it; wrappers below count or break its calls.
  const client = () => documentClientOf(db.storeClient(kind));
  const storeWith = (over: Partial<ConstructorParameters<typeof ConnectionStore>[0]> = {}) =>
    new ConnectionStore({ tableName: db.tableName, client: db.storeClient(kind), ...over });

  it('connects, joins, lists, leaves and disconnects', async () => {
    const store = storeWith();
    await store.connect('c1', { name: 'alice' });
    await store.connect('c2');
    await store.join('c1', 'lobby');
    await store.join('c2', 'lobby');
    await store.join('c1', 'games');
    expect((await collect(store.members('lobby'))).sort()).toEqual(['c1', 'c2']);
    expect(await store.roomsOf('c1')).toEqual(['games', 'lobby']);
    expect(await store.get('c1')).toMatchObject({ connectionId: 'c1', name: 'alice', rooms: ['games', 'lobby'] });
    expect(await store.leave('c2', 'lobby')).toBe(true);
    expect(await store.leave('c2', 'lobby')).toBe(false);
    expect(await collect(store.members('lobby'))).toEqual(['c1']);
    await store.disconnect('c1');
    expect(await store.get('c1')).toBeUndefined();
    expect(await collect(store.members('lobby'))).toEqual([]);
    expect(await collect(store.members('games'))).toEqual([]);
  });

  it('reads a room and a user strongly consistently (a leaver is not a recipient a moment later), the connection index eventually', async () => {
    // What each Query asked DynamoDB for, seen on the wire by a middleware of a client of its own.
    const client = DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint: db.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }),
    );
    const asked: { pk: unknown; consistent: unknown }[] = [];
    client.middlewareStack.add(
      (next) => async (args) => {
        const input = (args as { input: { ExpressionAttributeValues?: Record<string, unknown>; ConsistentRead?: unknown } }).input;
        if (input.ExpressionAttributeValues?.[':pk'] !== undefined)
          asked.push({ pk: input.ExpressionAttributeValues[':pk'], consistent: input.ConsistentRead });
        return next(args);
      },
      { step: 'initialize' },
    );
    const store = new ConnectionStore({ tableName: db.tableName, client, shards: 1 });
    await store.connect('cr-1', { userId: 'u-cr' });
    await store.join('cr-1', 'cr-room');
    await collect(store.members('cr-room'));
    await collect(store.connectionsOf('u-cr'));
    await collect(store.all());
    expect(asked).toEqual([
      { pk: 'room#cr-room', consistent: true },
      { pk: 'user#u-cr', consistent: true },
      { pk: 'connections#0', consistent: undefined },
    ]);
    client.destroy();
  });

  it('refuses to join an unknown connection', async () => {
    await expect(storeWith().join('never-connected', 'lobby')).rejects.toThrow(NotConnectedError);
    expect(await collect(storeWith().members('lobby'))).not.toContain('never-connected');
  });

  it('writes a TTL of at most 2 hours, in epoch seconds', async () => {
    const now = Date.UTC(2026, 10, 27, 12);
    await storeWith({ now: () => now, ttlSeconds: 24 * 3600 }).connect('ttl1');
    const info = await storeWith({ now: () => now }).get('ttl1');
    expect(info?.ttl).toBe(now / 1000 + 7200);
  });

  it('follows a room across pages: 3,500 members, and pages cut at 1 MB', async () => {
    const ttl = Math.floor(Date.now() / 1000) + 3600;
    const ids = Array.from({ length: 3500 }, (_, i) => `m${String(i).padStart(5, '0')}`);
    await putAll(ids.map((sk) => ({ pk: 'room#big', sk, ttl })));
    const store = storeWith({ pageSize: 1000 });
    const pages = [];
    for await (const page of store.pages('room#big')) pages.push(page.length);
    expect(pages).toEqual([1000, 1000, 1000, 500, 0].slice(0, pages.length));
    expect(pages.reduce((a, b) => a + b, 0)).toBe(3500);
    expect(new Set(await collect(store.members('big'))).size).toBe(3500);

    // 3,000 rows of ~1 KB each: DynamoDB (and dynalite) stop a page at 1 MB, whatever the Limit.
    const padding = 'p'.repeat(1000);
    await putAll(Array.from({ length: 3000 }, (_, i) => ({ pk: 'room#heavy', sk: `h${i}`, ttl, padding })));
    const roomy = storeWith({ pageSize: 10_000 });
    const heavyPages = [];
    for await (const page of roomy.pages('room#heavy')) heavyPages.push(page.length);
    expect(heavyPages.length).toBeGreaterThanOrEqual(3);
    expect(heavyPages.reduce((a, b) => a + b, 0)).toBe(3000);
  });

  it('filters expired rows on read (TTL deletion is lazy)', async () => {
    const t0 = Date.now();
    const early = storeWith({ now: () => t0 });
    await early.connect('old');
    await early.join('old', 'ttl-room');
    await early.connect('young');
    const later = storeWith({ now: () => t0 + 2 * 3600 * 1000 + 1000 });
    await later.connect('young'); // reconnect refreshes its TTL
    await later.join('young', 'ttl-room');
    expect(await collect(later.members('ttl-room'))).toEqual(['young']);
    expect(await collect(later.all())).not.toContain('old');
    expect(await later.get('old')).toBeUndefined();
    await expect(later.join('old', 'x')).rejects.toThrow(NotConnectedError);
    // The expired rows are still in the table; only reads hide them.
    const raw = await db.documentClient.send(
      new QueryCommand({ TableName: db.tableName, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': 'room#ttl-room' } }),
    );
    expect(raw.Items?.map((i) => i.sk).sort()).toEqual(['old', 'young']);
  });

  it('prunes 100 connections and all their memberships in batches', async () => {
    const store = storeWith();
    const ids = Array.from({ length: 100 }, (_, i) => `p${i}`);
    for (const id of ids) await store.connect(id);
    for (const [i, id] of ids.entries()) {
      await store.join(id, 'prune-a');
      if (i % 2 === 0) await store.join(id, 'prune-b');
    }
    // A membership row the connection item does not list (written by hand): the room hint finds it.
    await db.documentClient.send(new PutCommand({ TableName: db.tableName, Item: { pk: 'room#prune-c', sk: 'p0', ttl: Math.floor(Date.now() / 1000) + 600 } }));
    await store.connect('keeper');
    await store.join('keeper', 'prune-a');

    const result = await store.remove(ids, { rooms: new Map([['p0', ['prune-c']]]) });
    const items = 100 + 100 + 50 + 1;
    expect(result).toEqual({ connections: 100, items, left: [], requests: { batchGet: 1, batchWrite: Math.ceil(items / 25) } });
    expect(await collect(store.members('prune-a'))).toEqual(['keeper']);
    expect(await collect(store.members('prune-b'))).toEqual([]);
    expect(await collect(store.members('prune-c'))).toEqual([]);
    for (const id of ['p0', 'p50', 'p99']) expect(await store.get(id)).toBeUndefined();
    expect(await store.get('keeper')).toBeDefined();
  });

  it('retries UnprocessedItems until every delete lands', async () => {
    // dynalite never throttles, so a client that hands back half of each batch plays DynamoDB under load.
    let calls = 0;
    const flaky = {
      send: async (command: { input: { RequestItems?: Record<string, unknown[]> } }) => {
        calls++;
        const requests = command.input.RequestItems?.[db.tableName];
        if (command instanceof StoreBatchWriteCommand && requests && requests.length > 1 && calls % 2 === 1) {
          const half = Math.ceil(requests.length / 2);
          const out = await client().send(new StoreBatchWriteCommand({ RequestItems: { [db.tableName]: requests.slice(0, half) as never } }));
          return { ...out, UnprocessedItems: { [db.tableName]: requests.slice(half) } };
        }
        return client().send(command as never);
      },
    };
    const store = storeWith();
    for (let i = 0; i < 30; i++) await store.connect(`u${i}`);
    const flakyStore = storeWith({ client: flaky as never, batch: { baseDelayMs: 1 } });
    const result = await flakyStore.remove(Array.from({ length: 30 }, (_, i) => `u${i}`));
    expect(result.requests.batchWrite).toBeGreaterThan(2);
    expect(await collect(store.all())).not.toEqual(expect.arrayContaining(['u0']));
    for (let i = 0; i < 30; i++) expect(await store.get(`u${i}`)).toBeUndefined();
  });

  it('the prune keeps rows younger than the $connect grace, and never deletes a row it did not read', async () => {
    const old = storeWith({ now: () => Date.now() - 60_000 });
    const young = storeWith();
    await old.connect('grace-old');
    await old.join('grace-old', 'grace-room');
    await young.connect('grace-young');
    await young.join('grace-young', 'grace-room');
    // A membership whose connection row is not there (yet): its memberships named by the room go,
    // but no connection row is deleted "just in case" (its $connect may be about to write it).
    await db.documentClient.send(
      new PutCommand({ TableName: db.tableName, Item: { pk: 'room#grace-room', sk: 'grace-unwritten', ttl: Math.floor(Date.now() / 1000) + 600 } }),
    );

    const rooms = new Map([['grace-unwritten', ['grace-room']]]);
    const result = await young.remove(['grace-old', 'grace-young', 'grace-unwritten'], { rooms, keepConnectedAfter: Date.now() - 30_000 });
    expect(result.left).toEqual([{ connectionId: 'grace-young', reason: 'connecting' }]);
    expect(result.connections).toBe(2);
    expect(await young.get('grace-old')).toBeUndefined();
    expect(await young.get('grace-young')).toBeDefined();
    expect(await collect(young.members('grace-room'))).toEqual(['grace-young']);

    // The $connect that was still running writes its row now: the prune must not have deleted it.
    await young.connect('grace-unwritten');
    expect(await young.get('grace-unwritten')).toBeDefined();
    // Without keepConnectedAfter ($disconnect, our own DeleteConnection) age does not matter.
    await young.remove(['grace-young', 'grace-unwritten']);
    expect(await young.get('grace-young')).toBeUndefined();
  });

  it('prunes in parallel batches, and an abort leaves the rest reported, not thrown', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const counting = {
      send: async (command: never, options?: never) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          return await client().send(command, options);
        } finally {
          inFlight--;
        }
      },
    };
    const ttl = Math.floor(Date.now() / 1000) + 600;
    const ids = Array.from({ length: 500 }, (_, i) => `par${i}`);
    await putAll(ids.map((sk) => ({ ...connectionKey(sk), ttl, connectedAt: 0 })));
    const store = storeWith({ client: counting as never });
    const result = await store.remove(ids);
    expect(result).toMatchObject({ connections: 500, left: [], requests: { batchGet: 5, batchWrite: 20 } });
    expect(maxInFlight).toBeGreaterThan(1);
    expect(maxInFlight).toBeLessThanOrEqual(8);

    await putAll(ids.map((sk) => ({ ...connectionKey(sk), ttl, connectedAt: 0 })));
    const controller = new AbortController();
    controller.abort();
    const aborted = await store.remove(ids, { signal: controller.signal });
    expect(aborted.connections).toBe(0);
    expect(aborted.left).toHaveLength(500);
    expect(new Set(aborted.left.map((l) => l.reason))).toEqual(new Set(['deadline']));
    expect(await store.get('par0')).toBeDefined();
  });

  it('a read aborted mid-room stops asking DynamoDB for pages', async () => {
    let queries = 0;
    const counting = {
      send: async (command: never, options?: never) => {
        queries++;
        return client().send(command, options);
      },
    };
    const ttl = Math.floor(Date.now() / 1000) + 600;
    await putAll(Array.from({ length: 50 }, (_, i) => ({ pk: 'room#abort-room', sk: `ab${i}`, ttl })));
    const store = storeWith({ client: counting as never, pageSize: 10 });
    const controller = new AbortController();
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const id of store.members('abort-room', { signal: controller.signal })) {
          seen.push(id);
          if (seen.length === 15) controller.abort();
        }
      })(),
    ).rejects.toThrow();
    expect(seen.length).toBeLessThanOrEqual(20);
    expect(queries).toBe(2);
  });
});
