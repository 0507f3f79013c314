import { describe, expect, it } from '@jest/globals';
import { handler as connect } from '../../handlers/connect.ts';
import { handler as defaultRoute } from '../../handlers/default.ts';
import { handler as disconnect } from '../../handlers/disconnect.ts';
import { handler as join } from '../../handlers/join.ts';
import { handler as leave } from '../../handlers/leave.ts';
import { handler as send } from '../../handlers/send.ts';
import { handler as session } from '../../handlers/session.ts';
import { checkJoinCaps } from '../../handlers/lib/limits.ts';
import { MemoryStore } from '../../src/index.ts';
import { WsTestHarness } from '../../src/testing/index.ts';

// The example chat app, handler by handler, through the testing helper: the protocol in README.md.

const quietly = async <T>(fn: () => Promise<T>): Promise<T> => {
  const log = console.log;
  const error = console.error;
  console.log = console.error = () => undefined;
  try {
    return await fn();
  } finally {
    console.log = log;
    console.error = error;
  }
};

// A v4 UUID, as crypto.randomUUID() makes them.
const anId = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

/** Every recipient got the very same bytes (one serialized payload, hence one id): returns them parsed. */
const onePayload = (sent: { data: string }[]): unknown => {
  expect(sent.length).toBeGreaterThan(0);
  expect(new Set(sent.map((s) => s.data)).size).toBe(1);
  return JSON.parse(sent[0]!.data);
};

/** What the authorizer lets a user in with (handlers/authorize.ts): principalId = sub, the verified name, the claim. */
const as = (name: string, broadcast = false) => ({ authorizer: { principalId: `user-${name}`, name, broadcast } });

describe('chat protocol', () => {
  it('join, send to room, send to all, leave, disconnect', () =>
    quietly(async () => {
      const h = new WsTestHarness();
      const { connectionId: alice } = await h.connect(connect, as('alice'));
      const { connectionId: bob } = await h.connect(connect, as('bob'));
      const { connectionId: carol } = await h.connect(connect, as('carol', true));
      expect(await h.store.get(alice)).toMatchObject({ name: 'alice', userId: 'user-alice' });

      let r = await h.invoke(join, { routeKey: 'join', connectionId: alice, body: { action: 'join', room: 'lobby' } });
      expect(r.sent).toEqual([
        { connectionId: alice, data: expect.any(String), json: { type: 'joined', id: anId, room: 'lobby', connectionId: alice, name: 'alice' } },
      ]);
      r = await h.invoke(join, { routeKey: 'join', connectionId: bob, body: { action: 'join', room: 'lobby' } });
      // Every member, the joiner included.
      expect(r.sent.map((s) => s.connectionId).sort()).toEqual([alice, bob].sort());
      expect(onePayload(r.sent)).toEqual({ type: 'joined', id: anId, room: 'lobby', connectionId: bob, name: 'bob' });

      r = await h.invoke(send, { routeKey: 'send', connectionId: alice, body: { action: 'send', room: 'lobby', text: 'hi room' } });
      expect(r.sent.map((s) => s.connectionId).sort()).toEqual([alice, bob].sort());
      expect(onePayload(r.sent)).toEqual({ type: 'message', id: anId, room: 'lobby', from: { id: alice, name: 'alice' }, text: 'hi room' });
      expect(h.received(carol)).toEqual([]);

      r = await h.invoke(send, { routeKey: 'send', connectionId: carol, body: { action: 'send', text: 'hi all' } });
      expect(r.sent.map((s) => s.connectionId).sort()).toEqual([alice, bob, carol].sort());
      expect(onePayload(r.sent)).toEqual({ type: 'message', id: anId, from: { id: carol, name: 'carol' }, text: 'hi all' });

      r = await h.invoke(leave, { routeKey: 'leave', connectionId: bob, body: { action: 'leave', room: 'lobby' } });
      // The members of the room and the leaver.
      expect(r.sent.map((s) => s.connectionId).sort()).toEqual([alice, bob].sort());
      expect(onePayload(r.sent)).toEqual({ type: 'left', id: anId, room: 'lobby', connectionId: bob, name: 'bob' });
      r = await h.invoke(send, { routeKey: 'send', connectionId: alice, body: { action: 'send', room: 'lobby', text: 'still here?' } });
      expect(r.sent.map((s) => s.connectionId)).toEqual([alice]);

      // The rooms alice was in hear that she left: her name came with the connection, not a message.
      await h.invoke(join, { routeKey: 'join', connectionId: carol, body: { action: 'join', room: 'lobby' } });
      r = await h.invoke(disconnect, { routeKey: '$disconnect', connectionId: alice });
      expect(r.sent.map((s) => s.connectionId)).toEqual([carol]);
      expect(onePayload(r.sent)).toEqual({ type: 'left', id: anId, room: 'lobby', connectionId: alice, name: 'alice' });
      expect(await h.store.get(alice)).toBeUndefined();
      expect(await h.store.roomsOf(alice)).toEqual([]);
      r = await h.invoke(send, { routeKey: 'send', connectionId: carol, body: { action: 'send', text: 'bye' } });
      expect(r.sent.map((s) => s.connectionId).sort()).toEqual([bob, carol].sort());
    }));

  it('each event has its own id, the same for all of its recipients', () =>
    quietly(async () => {
      const h = new WsTestHarness();
      const ids = await Promise.all(['a', 'b', 'c'].map(async (name) => (await h.connect(connect, as(name, true))).connectionId));
      const [a, b, c] = ids as [string, string, string];
      const idOf = (sent: { data: string }[]) => (onePayload(sent) as { id: string }).id;
      const seen: string[] = [];
      for (const who of ids) seen.push(idOf((await h.invoke(join, { routeKey: 'join', connectionId: who, body: { action: 'join', room: 'lobby' } })).sent));

      // The same text twice from the same sender is two messages: two ids, each shared by all 3.
      for (let i = 0; i < 2; i++) {
        const r = await h.invoke(send, { routeKey: 'send', connectionId: a, body: { action: 'send', room: 'lobby', text: 'same words' } });
        expect(r.sent.map((s) => s.connectionId).sort()).toEqual([a, b, c].sort());
        seen.push(idOf(r.sent));
      }
      const all = await h.invoke(send, { routeKey: 'send', connectionId: b, body: { action: 'send', text: 'same words' } });
      expect(all.sent).toHaveLength(3);
      seen.push(idOf(all.sent));
      seen.push(idOf((await h.invoke(leave, { routeKey: 'leave', connectionId: c, body: { action: 'leave', room: 'lobby' } })).sent));

      expect(seen).toHaveLength(7);
      expect(new Set(seen).size).toBe(seen.length);
      // What each client holds across invocations: every id once, none repeated.
      for (const who of ids) {
        const got = h.received(who).map((m) => (m as { id: string }).id);
        expect(new Set(got).size).toBe(got.length);
      }
    }));

  it('the sender, reached both through the room and directly, gets one copy', () =>
    quietly(async () => {
      const h = new WsTestHarness();
      const { connectionId: me } = await h.connect(connect, as('me'));
      await h.invoke(join, { routeKey: 'join', connectionId: me, body: { action: 'join', room: 'lobby' } });
      const r = await h.invoke(send, { routeKey: 'send', connectionId: me, body: { action: 'send', room: 'lobby', text: 'echo' } });
      expect(r.sent.map((s) => s.connectionId)).toEqual([me]);
    }));

  it.each([
    ['an unknown action', defaultRoute, '$default', { action: 'dance' }, 'unknown action "dance" (one of: join, leave, send)'],
    ['no action', defaultRoute, '$default', { room: 'x' }, 'missing field "action" (one of: join, leave, send)'],
    [
      'a binary frame holding a valid send (API Gateway routes only text frames by their body)',
      defaultRoute,
      '$default',
      new TextEncoder().encode(JSON.stringify({ action: 'send', room: 'lobby', text: 'hi' })),
      'binary frames are not routed by their body: send the message as a text frame (JSON)',
    ],
    ['invalid JSON', defaultRoute, '$default', 'not json', 'Invalid JSON: the message must be a JSON object'],
    ['join without a room', join, 'join', { action: 'join' }, 'missing field "room"'],
    ['a room with a space', join, 'join', { action: 'join', room: 'a b' }, '"room" must be 1-64 letters, digits, "_", "." or "-"'],
    ['a 65-character room', join, 'join', { action: 'join', room: 'r'.repeat(65) }, '"room" must be 1-64 letters, digits, "_", "." or "-"'],
    ['send without text', send, 'send', { action: 'send', room: 'lobby' }, 'missing field "text"'],
    ['text that is a number', send, 'send', { action: 'send', text: 42 }, '"text" must be a string'],
    ['text over 8 KB', send, 'send', { action: 'send', text: 'x'.repeat(8 * 1024 + 1) }, '"text" is longer than 8192 bytes'],
    ['a body that is an array', send, 'send', [1, 2], 'the message must be a JSON object'],
  ])('replies with an error to the caller only for %s', (_label, handler, routeKey, body, message) =>
    quietly(async () => {
      const h = new WsTestHarness();
      const { connectionId: me } = await h.connect(connect, as('me', true));
      const { connectionId: other } = await h.connect(connect, as('other'));
      await h.invoke(join, { routeKey: 'join', connectionId: other, body: { action: 'join', room: 'lobby' } });
      const r = await h.invoke(handler, { routeKey, connectionId: me, body });
      expect(r.response.statusCode).toBe(400);
      expect(r.sent).toEqual([{ connectionId: me, data: JSON.stringify({ type: 'error', message }), json: { type: 'error', message } }]);
    }),
  );

  it('a message over 128 KB is refused with 413 before parsing, with the default limit (nothing set)', () =>
    quietly(async () => {
      const h = new WsTestHarness();
      const { connectionId: me } = await h.connect(connect, as('me'));
      const r = await h.invoke(send, { routeKey: 'send', connectionId: me, body: JSON.stringify({ action: 'send', text: 'x'.repeat(128 * 1024) }) });
      expect(r.response.statusCode).toBe(413);
      expect(r.sent.map((s) => s.json)).toEqual([{ type: 'error', message: 'message is larger than 131072 bytes' }]);
    }));

  it('joining before connecting is an error reply, not a crash', () =>
    quietly(async () => {
      const h = new WsTestHarness();
      const r = await h.invoke(join, { routeKey: 'join', connectionId: 'ghost', body: { action: 'join', room: 'lobby' }, ...as('ghost') });
      expect(r.sent.map((s) => s.json)).toEqual([{ type: 'error', message: 'connection ghost is not registered (connect first)' }]);
    }));

  it('refuses a $connect with no verified identity (no authorizer) with 401, and registers nothing', () =>
    quietly(async () => {
      const h = new WsTestHarness();
      const r = await h.connect(connect, { query: { name: 'alice' } });
      expect(r.response.statusCode).toBe(401);
      expect(await h.store.get(r.connectionId)).toBeUndefined();
      expect(h.open.has(r.connectionId)).toBe(false);
    }));

  it('a message route without a verified identity gets an error, and nothing is sent to anyone else', () =>
    quietly(async () => {
      const h = new WsTestHarness();
      const { connectionId: member } = await h.connect(connect, as('member', true));
      await h.invoke(join, { routeKey: 'join', connectionId: member, body: { action: 'join', room: 'lobby' } });
      const r = await h.invoke(send, { routeKey: 'send', connectionId: 'anon', body: { action: 'send', text: 'hi' } });
      expect(r.response?.statusCode).toBe(401);
      expect(r.sent.map((s) => s.connectionId)).toEqual(['anon']);
    }));
});

describe('abuse limits', () => {
  it('a room send from a non-member is refused, and the room hears nothing', () =>
    quietly(async () => {
      const h = new WsTestHarness();
      const { connectionId: member } = await h.connect(connect, as('member'));
      const { connectionId: outsider } = await h.connect(connect, as('outsider'));
      await h.invoke(join, { routeKey: 'join', connectionId: member, body: { action: 'join', room: 'lobby' } });
      const r = await h.invoke(send, { routeKey: 'send', connectionId: outsider, body: { action: 'send', room: 'lobby', text: 'let me in' } });
      expect(r.response?.statusCode).toBe(403);
      expect(r.sent).toEqual([
        { connectionId: outsider, data: expect.any(String), json: { type: 'error', message: 'you are not a member of room "lobby": join it first' } },
      ]);
      expect(h.received(member).filter((m) => (m as { type: string }).type === 'message')).toEqual([]);
    }));

  it('sending to everyone needs the broadcast claim', () =>
    quietly(async () => {
      const h = new WsTestHarness();
      const { connectionId: plain } = await h.connect(connect, as('plain'));
      const { connectionId: other } = await h.connect(connect, as('other'));
      const r = await h.invoke(send, { routeKey: 'send', connectionId: plain, body: { action: 'send', text: 'everyone!' } });
      expect(r.response?.statusCode).toBe(403);
      expect(r.sent.map((s) => s.json)).toEqual([
        { type: 'error', message: 'sending to everyone needs the chat:broadcast permission: send to a room you joined' },
      ]);
      expect(h.received(other)).toEqual([]);
    }));

  it('a connection past its burst is told to slow down, and the route does not run; another connection is unaffected', () =>
    quietly(async () => {
      const h = new WsTestHarness();
      const { connectionId: flood } = await h.connect(connect, as('flood'));
      const { connectionId: calm } = await h.connect(connect, as('calm'));
      await h.invoke(join, { routeKey: 'join', connectionId: calm, body: { action: 'join', room: 'lobby' } });
      const flooded = [];
      for (let i = 0; i < 30; i++) flooded.push(await h.invoke(join, { routeKey: 'join', connectionId: flood, body: { action: 'join', room: 'lobby' } }));
      const refused = flooded.filter((r) => r.response?.statusCode === 429);
      // The default burst is 10: the first ones pass, then the loop is refused (timing may free a token or two).
      expect(refused.length).toBeGreaterThanOrEqual(30 - 10 - 5);
      expect(refused.every((r) => r.sent.length === 1 && JSON.stringify(r.sent[0]!.json) === '{"type":"error","message":"slow down"}')).toBe(true);
      const calmly = await h.invoke(send, { routeKey: 'send', connectionId: calm, body: { action: 'send', room: 'lobby', text: 'still fine' } });
      expect(calmly.response?.statusCode).toBe(200);
    }));

  it('caps rooms per connection and members per room, with clear errors; a re-join passes', async () => {
    const store = new MemoryStore();
    const caps = { maxRoomsPerConnection: 2, maxRoomMembers: 2 };
    for (const id of ['a', 'b', 'c']) await store.connect(id);
    for (const room of ['r1', 'r2']) {
      await checkJoinCaps(store, 'a', room, caps);
      await store.join('a', room);
    }
    await expect(checkJoinCaps(store, 'a', 'r3', caps)).rejects.toMatchObject({
      statusCode: 403,
      message: 'you are in 2 rooms, the most one connection may join (2): leave one first',
    });
    await expect(checkJoinCaps(store, 'a', 'r1', caps)).resolves.toBeUndefined();
    await store.join('b', 'r1');
    await expect(checkJoinCaps(store, 'c', 'r1', caps)).rejects.toMatchObject({ statusCode: 403, message: 'room "r1" is full (2 members)' });
    await expect(checkJoinCaps(store, 'b', 'r1', caps)).resolves.toBeUndefined();
  });
});

describe('sessions under the testing helper (MemoryStore with sessions)', () => {
  it('a dropped client whose $disconnect never ran is pruned on 410, yet resumes its session and gets what it missed', () =>
    quietly(async () => {
      const h = new WsTestHarness({ store: new MemoryStore({ sessions: { windowSeconds: 120 } }) });
      const begin = async (name: string, token: string | null = null, rooms: Record<string, number> = {}) => {
        const { connectionId } = await h.connect(connect, as(name));
        await h.invoke(session, { routeKey: 'resume', connectionId, ...as(name), body: { action: 'resume', session: token, rooms } });
        return { connectionId, reply: h.received(connectionId).find((m: any) => m.type === 'session') as any };
      };
      const alice = await begin('alice');
      const bob = await begin('bob');
      for (const id of [alice.connectionId, bob.connectionId])
        await h.invoke(join, { routeKey: 'join', connectionId: id, body: { action: 'join', room: 'lobby' } });
      const seen = (h.received(alice.connectionId) as any[]).filter((m) => m.room === 'lobby');
      const lastSeq = seen.at(-1).seq;

      // Alice's network goes; API Gateway never calls $disconnect. Bob's message meets a 410 and
      // the prune takes her rows, but not her session.
      h.drop(alice.connectionId);
      const r = await h.invoke(send, { routeKey: 'send', connectionId: bob.connectionId, body: { action: 'send', room: 'lobby', text: 'are you there?' } });
      expect(r.report?.gone).toEqual([alice.connectionId]);
      expect(r.report?.pruned).toBe(1);

      // As ws-outbox/client does: the token, and the last seq it delivered per room.
      const back = await begin('alice', alice.reply.session, { lobby: lastSeq });
      expect(back.reply).toMatchObject({ resumed: true, missed: 1, rooms: ['lobby'], reset: [] });
      const replay = (h.received(back.connectionId) as any[]).find((m) => m.type === 'replay' && m.room === 'lobby');
      expect(replay.messages).toEqual([expect.objectContaining({ type: 'message', text: 'are you there?', room: 'lobby', seq: lastSeq + 1 })]);
      expect(await h.store.roomsOf(back.connectionId)).toEqual(['lobby']);
    }));
});
