// context.outbox.toUser(): every live connection of a verified user, read from the store's user
// index at flush time like a room, deduplicated with the rest of the flush, pruned on 410, and
// reported as unresolved (target 'user') when the store fails.
import { describe, expect, it } from '@jest/globals';
import { MemoryStore, wsHandler, type Store, type WsEvent } from '../../../src/index.ts';
import { Outbox } from '../../../src/outbox/outbox.ts';
import { WsTestHarness } from '../../../src/testing/index.ts';

const quiet = { logger: false as const, errorLogger: false as const };

// A route that sends `text` to every connection of `user` (and says so to the caller).
const notify = wsHandler<{ user: string; text: string; except?: string }>(async (event, context) => {
  context.outbox.toUser(event.body.user, { type: 'note', text: event.body.text }, { except: event.body.except });
}, quiet);

const connect = wsHandler(async (event: WsEvent, context) => {
  const authorizer = event.requestContext.authorizer;
  await context.store.connect(event.requestContext.connectionId, { name: authorizer?.name, userId: authorizer?.principalId });
}, quiet);

const harnessWithUsers = async (store?: Store) => {
  const h = new WsTestHarness({ store });
  const ids: Record<string, string> = {};
  for (const [key, user] of [
    ['alice1', 'u-alice'],
    ['alice2', 'u-alice'],
    ['bob', 'u-bob'],
  ] as const) {
    ids[key] = (await h.connect(connect, { authorizer: { principalId: user, name: key } })).connectionId;
  }
  return { h, ids };
};

describe('outbox.toUser()', () => {
  it('reaches both connections of one user and no one else', async () => {
    const { h, ids } = await harnessWithUsers();
    const out = await h.invoke(notify, { routeKey: 'notify', connectionId: ids.bob!, body: { user: 'u-alice', text: 'hi' } });
    expect(out.sent.map((s) => s.connectionId).sort()).toEqual([ids.alice1, ids.alice2].sort());
    expect(out.report).toMatchObject({ queued: 2, sent: 2, unresolved: [] });
    expect(h.received(ids.bob!)).toEqual([]);
  });

  it('skips the connections in `except` (another tab of the same user)', async () => {
    const { h, ids } = await harnessWithUsers();
    const out = await h.invoke(notify, { routeKey: 'notify', connectionId: ids.alice1!, body: { user: 'u-alice', text: 'sync', except: ids.alice1 } });
    expect(out.sent.map((s) => s.connectionId)).toEqual([ids.alice2]);
  });

  it('a connection reached through toUser and send() gets the message once', async () => {
    const { h, ids } = await harnessWithUsers();
    const both = wsHandler(async (_e, context) => {
      const m = { type: 'note', text: 'once' };
      context.outbox.toUser('u-alice', m);
      context.outbox.send(ids.alice1!, m);
    }, quiet);
    const out = await h.invoke(both, { routeKey: 'both', connectionId: ids.bob });
    expect(out.sent.map((s) => s.connectionId).sort()).toEqual([ids.alice1, ids.alice2].sort());
  });

  it('a gone connection of the user (410) is pruned with its user-index row', async () => {
    const store = new MemoryStore();
    const { h, ids } = await harnessWithUsers(store);
    h.drop(ids.alice2!);
    const out = await h.invoke(notify, { routeKey: 'notify', connectionId: ids.bob!, body: { user: 'u-alice', text: 'hello?' } });
    expect(out.report).toMatchObject({ sent: 1, gone: [ids.alice2], pruned: 1 });
    expect([...store.users.get('u-alice')!]).toEqual([ids.alice1]);
    expect(await store.get(ids.alice2!)).toBeUndefined();
  });

  it('a store that fails reading the user is reported as unresolved (target user); later entries still go', async () => {
    const store = new MemoryStore();
    const broken: Store = Object.assign(Object.create(store), {
      connectionsOf: () =>
        // biome-ignore lint/correctness/useYield: a generator that fails on its first read, as a throttled Query does
        (async function* () {
          throw Object.assign(new Error('ProvisionedThroughputExceededException'), { name: 'ProvisionedThroughputExceededException' });
        })(),
    });
    const h = new WsTestHarness({ store: broken });
    const after = wsHandler(async (_e, context) => {
      context.outbox.toUser('u-x', 'one');
      context.outbox.reply('two');
    }, quiet);
    const out = await h.invoke(after, { routeKey: 'x', connectionId: 'caller' });
    expect(out.sent.map((s) => s.data)).toEqual(['two']);
    expect(out.report!.unresolved).toEqual([{ target: 'user', userId: 'u-x', reason: 'store', error: 'ProvisionedThroughputExceededException', reached: 0 }]);
  });

  it('refuses a missing user id where it is called, and a store-less outbox says why', async () => {
    const bad = wsHandler(async (_e, context) => {
      context.outbox.toUser('' as string, 'x');
    }, quiet);
    const out = await new WsTestHarness().invoke(bad, { routeKey: 'x', connectionId: 'caller' });
    expect(out.response?.statusCode).toBe(500);
    expect(out.report?.discarded).toBe(0);
    expect(() => new Outbox({ storeAvailable: false }).toUser('u', 'x')).toThrow(/toUser\(\) needs a connection store/);
  });
});

describe('the authorizer context in the event', () => {
  it('is typed, stringified, and repeated on every route of the connection by the harness', async () => {
    const seen: unknown[] = [];
    const probe = wsHandler<unknown, { name: string; broadcast: string }>(async (event) => {
      const a = event.requestContext.authorizer;
      seen.push(a && { principalId: a.principalId, name: a.name, broadcast: a.broadcast });
    }, quiet);
    const h = new WsTestHarness();
    const { connectionId } = await h.connect(probe, { authorizer: { principalId: 'u1', name: 'alice', broadcast: true } });
    await h.invoke(probe, { routeKey: 'send', connectionId });
    await h.invoke(probe, { routeKey: '$disconnect', connectionId });
    expect(seen).toEqual(Array(3).fill({ principalId: 'u1', name: 'alice', broadcast: 'true' }));
  });
});
