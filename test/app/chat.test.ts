import { describe, expect, it } from '@jest/globals';
import { handler as connect } from '../../handlers/connect.ts';
import { handler as defaultRoute } from '../../handlers/default.ts';
import { handler as disconnect } from '../../handlers/disconnect.ts';
import { handler as join } from '../../handlers/join.ts';
import { handler as leave } from '../../handlers/leave.ts';
import { handler as send } from '../../handlers/send.ts';
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

describe('chat protocol', () => {
  it('join, send to room, send to all, leave, disconnect', () =>
    quietly(async () => {
      const h = new WsTestHarness();
      const { connectionId: alice } = await h.connect(connect, { query: { name: 'alice' } });
      const { connectionId: bob } = await h.connect(connect);
      const { connectionId: carol } = await h.connect(connect);
      expect(await h.store.get(alice)).toMatchObject({ name: 'alice' });

      let r = await h.invoke(join, { routeKey: 'join', connectionId: alice, body: { action: 'join', room: 'lobby' } });
      expect(r.sent).toEqual([{ connectionId: alice, data: expect.any(String), json: { type: 'joined', id: anId, room: 'lobby', connectionId: alice } }]);
      r = await h.invoke(join, { routeKey: 'join', connectionId: bob, body: { action: 'join', room: 'lobby' } });
      // Every member, the joiner included.
      expect(r.sent.map((s) => s.connectionId).sort()).toEqual([alice, bob].sort());
      expect(onePayload(r.sent)).toEqual({ type: 'joined', id: anId, room: 'lobby', connectionId: bob });

      r = await h.invoke(send, { routeKey: 'send', connectionId: alice, body: { action: 'send', room: 'lobby', text: 'hi room' } });
      expect(r.sent.map((s) => s.connectionId).sort()).toEqual([alice, bob].sort());
      expect(onePayload(r.sent)).toEqual({ type: 'message', id: anId, room: 'lobby', from: alice, text: 'hi room' });
      expect(h.received(carol)).toEqual([]);

      r = await h.invoke(send, { routeKey: 'send', connectionId: carol, body: { action: 'send', text: 'hi all' } });
      expect(r.sent.map((s) => s.connectionId).sort()).toEqual([alice, bob, carol].sort());
      expect(onePayload(r.sent)).toEqual({ type: 'message', id: anId, from: carol, text: 'hi all' });

      r = await h.invoke(leave, { routeKey: 'leave', connectionId: bob, body: { action: 'leave', room: 'lobby' } });
      // The members of the room and the leaver.
      expect(r.sent.map((s) => s.connectionId).sort()).toEqual([alice, bob].sort());
      expect(onePayload(r.sent)).toEqual({ type: 'left', id: anId, room: 'lobby', connectionId: bob });
      r = await h.invoke(send, { routeKey: 'send', connectionId: alice, body: { action: 'send', room: 'lobby', text: 'still here?' } });
      expect(r.sent.map((s) => s.connectionId)).toEqual([alice]);

      await h.invoke(disconnect, { routeKey: '$disconnect', connectionId: alice });
      expect(await h.store.get(alice)).toBeUndefined();
      expect(await h.store.roomsOf(alice)).toEqual([]);
      r = await h.invoke(send, { routeKey: 'send', connectionId: bob, body: { action: 'send', text: 'bye' } });
      expect(r.sent.map((s) => s.connectionId).sort()).toEqual([bob, carol].sort());
    }));

  it('each event has its own id, the same for all of its recipients', () =>
    quietly(async () => {
      const h = new WsTestHarness();
      const ids = await Promise.all(['a', 'b', 'c'].map(async () => (await h.connect(connect)).connectionId));
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
      const { connectionId: me } = await h.connect(connect);
      await h.invoke(join, { routeKey: 'join', connectionId: me, body: { action: 'join', room: 'lobby' } });
      const r = await h.invoke(send, { routeKey: 'send', connectionId: me, body: { action: 'send', room: 'lobby', text: 'echo' } });
      expect(r.sent.map((s) => s.connectionId)).toEqual([me]);
    }));

  it.each([
    ['an unknown action', defaultRoute, '$default', { action: 'dance' }, 'unknown action "dance" (one of: join, leave, send)'],
    ['no action', defaultRoute, '$default', { room: 'x' }, 'missing field "action" (one of: join, leave, send)'],
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
      const { connectionId: me } = await h.connect(connect);
      const { connectionId: other } = await h.connect(connect);
      await h.invoke(join, { routeKey: 'join', connectionId: other, body: { action: 'join', room: 'lobby' } });
      const r = await h.invoke(handler, { routeKey, connectionId: me, body });
      expect(r.response.statusCode).toBe(400);
      expect(r.sent).toEqual([{ connectionId: me, data: JSON.stringify({ type: 'error', message }), json: { type: 'error', message } }]);
    }));

  it('a message over 128 KB is refused with 413 before parsing, with the default limit (nothing set)', () =>
    quietly(async () => {
      const h = new WsTestHarness();
      const { connectionId: me } = await h.connect(connect);
      const r = await h.invoke(send, { routeKey: 'send', connectionId: me, body: JSON.stringify({ action: 'send', text: 'x'.repeat(128 * 1024) }) });
      expect(r.response.statusCode).toBe(413);
      expect(r.sent.map((s) => s.json)).toEqual([{ type: 'error', message: 'message is larger than 131072 bytes' }]);
    }));

  it('joining before connecting is an error reply, not a crash', () =>
    quietly(async () => {
      const h = new WsTestHarness();
      const r = await h.invoke(join, { routeKey: 'join', connectionId: 'ghost', body: { action: 'join', room: 'lobby' } });
      expect(r.sent.map((s) => s.json)).toEqual([{ type: 'error', message: 'connection ghost is not registered (connect first)' }]);
    }));

  it('rejects a bad name on $connect with 400, and registers nothing', () =>
    quietly(async () => {
      const h = new WsTestHarness();
      const r = await h.connect(connect, { query: { name: '<script>' } });
      expect(r.response.statusCode).toBe(400);
      expect(await h.store.get(r.connectionId)).toBeUndefined();
      expect(h.open.has(r.connectionId)).toBe(false);
    }));
});
