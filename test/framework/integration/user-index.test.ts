// The user → connections index (src/store/users.ts), on dynalite and in memory: the same contract.
// connect() with a userId indexes the connection under that user; connectionsOf() reads the live
// ones page by page; disconnect and the prune remove the index rows with the connection.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConnectionStore, MemoryStore, type Store } from '../../../src/index.ts';
import { startDynalite, storeClientKinds, type DynaliteHandle } from '../../helpers/dynalite.ts';

let db: DynaliteHandle;
beforeAll(async () => {
  db = await startDynalite('user-index-test');
});
afterAll(async () => {
  await db?.stop();
});

const collect = async (it: AsyncIterable<string>) => {
  const out: string[] = [];
  for await (const x of it) out.push(x);
  return out.sort();
};

let n = 0;
// Fresh ids per test: both stores share nothing, and dynalite's table is shared by the file.
const fresh = (prefix: string) => `${prefix}-${++n}`;

const stores: Array<[string, () => Store]> = [
  ...storeClientKinds.map((kind): [string, () => Store] => [
    `ConnectionStore (dynalite, ${kind} client)`,
    () => new ConnectionStore({ tableName: db.tableName, client: db.storeClient(kind), pageSize: 2 }),
  ]),
  ['MemoryStore', () => new MemoryStore()],
];

describe.each(stores)('%s: the user index', (_, makeStore) => {
  it("lists every live connection of a user, and no one else's", async () => {
    const store = makeStore();
    const [alice, bob] = [fresh('alice'), fresh('bob')];
    await store.connect('a1', { name: 'alice', userId: alice });
    await store.connect('a2', { name: 'alice', userId: alice });
    await store.connect('a3', { name: 'alice', userId: alice }); // three rows: more than one page of 2
    await store.connect('b1', { name: 'bob', userId: bob });
    await store.connect('anon'); // no user: in no index
    expect(await collect(store.connectionsOf(alice))).toEqual(['a1', 'a2', 'a3']);
    expect(await collect(store.connectionsOf(bob))).toEqual(['b1']);
    expect(await collect(store.connectionsOf(fresh('nobody')))).toEqual([]);
    expect(await store.get('a2')).toMatchObject({ connectionId: 'a2', name: 'alice', userId: alice });
    expect((await store.get('anon'))?.userId).toBeUndefined();
  });

  it('disconnect and remove() take the user row with the connection', async () => {
    const store = makeStore();
    const user = fresh('carol');
    await store.connect('c1', { userId: user });
    await store.connect('c2', { userId: user });
    await store.join('c2', 'lobby');
    await store.disconnect('c1');
    expect(await collect(store.connectionsOf(user))).toEqual(['c2']);
    const removed = await store.remove(['c2'], { keepConnectedAfter: Date.now() + 60_000 });
    expect(removed).toMatchObject({ connections: 1, left: [] });
    expect(removed.items).toBe(3); // the connection, its membership, its user row
    expect(await collect(store.connectionsOf(user))).toEqual([]);
  });

  it('remove({ users }) deletes a user row whose connection item is missing', async () => {
    const store = makeStore();
    const user = fresh('dave');
    await store.connect('d1', { userId: user });
    // The connection item is gone (a half-failed $connect, or TTL) but the user row stayed.
    if (store instanceof ConnectionStore) {
      await db.documentClient.send(
        new PutCommand({ TableName: db.tableName, Item: { pk: `user#${user}`, sk: 'ghost', ttl: Math.floor(Date.now() / 1000) + 600 } }),
      );
    } else {
      (store as MemoryStore).users.get(user)!.add('ghost');
    }
    const removed = await store.remove(['ghost'], { users: new Map([['ghost', [user]]]), keepConnectedAfter: Date.now() - 1000 });
    expect(removed.left).toEqual([]);
    expect(await collect(store.connectionsOf(user))).toEqual(['d1']);
  });

  it('refuses a user id that is not a non-empty string, with a clear error, and writes nothing', async () => {
    const store = makeStore();
    await expect(store.connect('x1', { userId: '' })).rejects.toThrow(/needs a user id/);
    await expect(store.connect('x1', { userId: 42 as unknown as string })).rejects.toThrow(TypeError);
    expect(await store.get('x1')).toBeUndefined();
    expect(() => store.connectionsOf('')).toThrow(/needs a user id/);
  });
});

describe.each(storeClientKinds)('ConnectionStore on dynalite: user rows (%s client)', (kind) => {
  it('expire with the connection, and expired rows are filtered on read', async () => {
    const user = fresh('erin');
    const now = Date.now();
    const store = new ConnectionStore({ tableName: db.tableName, client: db.storeClient(kind) });
    await store.connect('e1', { userId: user });
    const row = (await db.documentClient.send(new GetCommand({ TableName: db.tableName, Key: { pk: `user#${user}`, sk: 'e1' } }))).Item;
    const item = await store.get('e1');
    expect(row?.ttl).toBe(item?.ttl);
    await db.documentClient.send(new PutCommand({ TableName: db.tableName, Item: { pk: `user#${user}`, sk: 'stale', ttl: Math.floor(now / 1000) - 1 } }));
    expect(await collect(store.connectionsOf(user))).toEqual(['e1']);
  });
});
