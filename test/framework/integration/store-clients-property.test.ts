// The store's two DynamoDB clients are interchangeable (fast-check, on dynalite):
//   - what one writes, the other reads back the same, for any item the store could hold
//     (strings, numbers, booleans, null, string and number sets, lists, maps, bytes); an attribute
//     named __proto__ (at the top) is dropped by both alike (@aws-sdk/util-dynamodb's unmarshall assigns each
//     key, and assigning __proto__ sets the prototype; the store never writes such a name);
//   - any sequence of connects, joins, leaves, disconnects and prunes leaves the same rooms,
//     memberships and connections whether the store runs on the SDK's client, on the lean one,
//     or in memory (the model).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { ConnectionStore, MemoryStore, type Store } from '../../../src/index.ts';
import { PutCommand as SdkPutCommand } from '@aws-sdk/lib-dynamodb';
import { documentClientOf, GetCommand, PutCommand } from '../../../src/store/dynamodb/document-client.ts';
import { startDynalite, type DynaliteHandle } from '../../helpers/dynalite.ts';

let db: DynaliteHandle;
beforeAll(async () => {
  db = await startDynalite('store-clients-property');
});
afterAll(async () => {
  await db?.stop();
});

const clients = () => ({ sdk: documentClientOf(db.documentClient), lean: db.leanClient });

// Attribute names, __proto__ among them often enough to be tried in every run.
const nameOf = (maxLength: number) =>
  fc.oneof({ weight: 9, arbitrary: fc.string({ minLength: 1, maxLength }) }, { weight: 1, arbitrary: fc.constant('__proto__') });

/** What a reader gives back of a written document: no __proto__ key at any depth, sets and bytes comparable. */
const asRead = (v: unknown): unknown =>
  JSON.parse(
    JSON.stringify(v, function (this: Record<string, unknown>, key, x) {
      const raw = this[key];
      if (raw instanceof Set) return { set: [...raw].sort() };
      if (raw instanceof Uint8Array) return { bytes: [...raw] };
      if (x !== null && typeof x === 'object' && !Array.isArray(x) && Object.hasOwn(x, '__proto__')) {
        return Object.fromEntries(Object.entries(x as Record<string, unknown>).filter(([k]) => k !== '__proto__'));
      }
      return x;
    }),
  );

// Attribute values DynamoDB stores: no empty sets, numbers within its 38 digits (doubles here).
const attribute: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.boolean(),
    fc.constant(null),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e15, max: 1e15 }).filter((x) => x === 0 || Math.abs(x) > 1e-100), // DynamoDB's smallest magnitude is 1e-130
    fc.uint8Array({ minLength: 1, maxLength: 20 }),
    fc.uniqueArray(fc.string(), { minLength: 1, maxLength: 5 }).map((xs) => new Set(xs)),
    fc.uniqueArray(fc.integer(), { minLength: 1, maxLength: 5 }).map((xs) => new Set(xs)),
    fc.array(tie('value'), { maxLength: 3 }),
    // Nested __proto__ keys are left out: the SDK's own writer sends them as an empty AttributeValue, which DynamoDB refuses.
    fc.dictionary(
      fc.string({ minLength: 1, maxLength: 8 }).filter((k) => k !== '__proto__'),
      tie('value'),
      { maxKeys: 3 },
    ),
  ),
})).value;

let item = 0;
describe('the lean and the SDK document clients', () => {
  it('read back what the other wrote, for any item, and both read it alike', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          nameOf(10).filter((k) => k !== 'pk' && k !== 'sk'),
          attribute,
          { maxKeys: 6 },
        ),
        fc.constantFrom('sdk', 'lean'),
        async (fields, writer) => {
          const c = clients();
          const Key = { pk: 'property', sk: `item-${++item}` };
          await c[writer].send(new PutCommand({ TableName: db.tableName, Item: { ...Key, ...fields } }));
          const read = async (reader: 'sdk' | 'lean') => (await c[reader].send(new GetCommand({ TableName: db.tableName, Key, ConsistentRead: true }))).Item;
          const [bySdk, byLean] = [await read('sdk'), await read('lean')];
          expect(asRead(byLean)).toEqual(asRead({ ...Key, ...fields }));
          expect(asRead(bySdk)).toEqual(asRead(byLean));
          expect(Object.hasOwn(byLean!, '__proto__')).toBe(Object.hasOwn(bySdk!, '__proto__'));
        },
      ),
      { numRuns: 60 },
    );
  });
});

type Op = { op: 'connect' | 'disconnect'; id: number } | { op: 'join' | 'leave'; id: number; room: number } | { op: 'prune'; ids: number[] };
const ops = fc.array(
  fc.oneof(
    fc.record({ op: fc.constant('connect' as const), id: fc.nat(5) }),
    fc.record({ op: fc.constant('disconnect' as const), id: fc.nat(5) }),
    fc.record({ op: fc.constant('join' as const), id: fc.nat(5), room: fc.nat(2) }),
    fc.record({ op: fc.constant('leave' as const), id: fc.nat(5), room: fc.nat(2) }),
    fc.record({ op: fc.constant('prune' as const), ids: fc.uniqueArray(fc.nat(5), { maxLength: 3 }) }),
  ),
  { maxLength: 14 },
);

const apply = async (store: Store, op: Op, run: string): Promise<string> => {
  const id = (n: number) => `${run}-c${n}`;
  try {
    if (op.op === 'connect') await store.connect(id(op.id), { name: `n${op.id}` });
    else if (op.op === 'disconnect') await store.disconnect(id(op.id));
    else if (op.op === 'join') await store.join(id(op.id), `${run}-r${op.room}`);
    else if (op.op === 'leave') return String(await store.leave(id(op.id), `${run}-r${op.room}`));
    else return JSON.stringify((await store.remove((op as { ids: number[] }).ids.map(id))).left);
    return 'ok';
  } catch (error) {
    return (error as Error).name;
  }
};

const stateOf = async (store: Store, run: string) => {
  const sorted = async (it: AsyncIterable<string>) => {
    const out: string[] = [];
    for await (const x of it) if (x.startsWith(run)) out.push(x);
    return out.sort();
  };
  const rooms = await Promise.all([0, 1, 2].map((r) => sorted(store.members(`${run}-r${r}`))));
  const ids = await Promise.all(
    [0, 1, 2, 3, 4, 5].map(async (n) => {
      const info = await store.get(`${run}-c${n}`);
      return info && { name: info.name, rooms: info.rooms };
    }),
  );
  return { rooms, ids, all: await sorted(store.all()) };
};

let run = 0;
describe('ConnectionStore on either client, and MemoryStore', () => {
  it('end in the same state, with the same answers, after any sequence of operations', async () => {
    await fc.assert(
      fc.asyncProperty(ops, async (sequence) => {
        const name = `run${++run}`;
        const stores: Record<string, Store> = {
          sdk: new ConnectionStore({ tableName: db.tableName, client: db.documentClient, shards: 2 }),
          lean: new ConnectionStore({ tableName: db.tableName, client: db.leanClient, shards: 2 }),
          memory: new MemoryStore(),
        };
        const answers: Record<string, string[]> = { sdk: [], lean: [], memory: [] };
        for (const [kind, store] of Object.entries(stores)) {
          for (const op of sequence) answers[kind]!.push(await apply(store, op, `${name}${kind}`));
        }
        const states = await Promise.all(
          Object.entries(stores).map(async ([kind, store]) => JSON.stringify(await stateOf(store, `${name}${kind}`)).replaceAll(`${name}${kind}`, 'R')),
        );
        expect(answers.lean).toEqual(answers.sdk);
        expect(answers.memory).toEqual(answers.sdk);
        expect(states[1]).toEqual(states[0]);
        expect(states[2]).toEqual(states[0]);
      }),
      { numRuns: 25 },
    );
  });
});

describe("a store client given lib-dynamodb's own commands", () => {
  it('on the SDK client, sends them as they are; on the lean one, refuses them naming what to import', async () => {
    const Item = { pk: 'foreign', sk: 'f1', n: 1 };
    await documentClientOf(db.documentClient).send(new SdkPutCommand({ TableName: db.tableName, Item }) as never);
    expect((await db.leanClient.send(new GetCommand({ TableName: db.tableName, Key: { pk: 'foreign', sk: 'f1' } }))).Item).toEqual(Item);
    await expect(db.leanClient.send(new SdkPutCommand({ TableName: db.tableName, Item }) as never)).rejects.toThrow(
      /takes ws-outbox's commands \(import \{ PutCommand \} from 'ws-outbox\/store'/,
    );
  });
});
