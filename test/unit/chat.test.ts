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

describe('chat protocol', () => {
  it('join, send to room, send to all, leave, disconnect', () =>
    quietly(async () => {
      const h = new WsTestHarness();
      const { connectionId: alice } = await h.connect(connect, { query: { name: 'alice' } });
      const { connectionId: bob } = await h.connect(connect);
      const { connectionId: carol } = await h.connect(connect);
      expect(await h.store.get(alice)).toMatchObject({ name: 'alice' });

      let r = await h.invoke(join, { routeKey: 'join', connectionId: alice, body: { action: 'join', room: 'lobby' } });
      expect(r.sent).toEqual([{ connectionId: alice, data: expect.any(String), json: { type: 'joined', room: 'lobby', connectionId: alice } }]);
      r = await h.invoke(join, { routeKey: 'join', connectionId: bob, body: { action: 'join', room: 'lobby' } });
      // Every member, the joiner included.
      expect(r.sent.map((s) => s.connectionId).sort()).toEqual([alice, bob].sort());
      expect(r.sent.every((s) => JSON.stringify(s.json) === JSON.stringify({ type: 'joined', room: 'lobby', connectionId: bob }))).toBe(true);

      r = await h.invoke(send, { routeKey: 'send', connectionId: alice, body: { action: 'send', room: 'lobby', text: 'hi room' } });
      expect(r.sent.map((s) => s.connectionId).sort()).toEqual([alice, bob].sort());
      expect(r.sent[0]!.json).toEqual({ type: 'message', room: 'lobby', from: alice, text: 'hi room' });
      expect(h.received(carol)).toEqual([]);

      r = await h.invoke(send, { routeKey: 'send', connectionId: carol, body: { action: 'send', text: 'hi all' } });
      expect(r.sent.map((s) => s.connectionId).sort()).toEqual([alice, bob, carol].sort());
      expect(r.sent[0]!.json).toEqual({ type: 'message', from: carol, text: 'hi all' });

      r = await h.invoke(leave, { routeKey: 'leave', connectionId: bob, body: { action: 'leave', room: 'lobby' } });
      // The members of the room and the leaver.
      expect(r.sent.map((s) => s.connectionId).sort()).toEqual([alice, bob].sort());
      expect(r.sent[0]!.json).toEqual({ type: 'left', room: 'lobby', connectionId: bob });
      r = await h.invoke(send, { routeKey: 'send', connectionId: alice, body: { action: 'send', room: 'lobby', text: 'still here?' } });
      expect(r.sent.map((s) => s.connectionId)).toEqual([alice]);

      await h.invoke(disconnect, { routeKey: '$disconnect', connectionId: alice });
      expect(await h.store.get(alice)).toBeUndefined();
      expect(await h.store.roomsOf(alice)).toEqual([]);
      r = await h.invoke(send, { routeKey: 'send', connectionId: bob, body: { action: 'send', text: 'bye' } });
      expect(r.sent.map((s) => s.connectionId).sort()).toEqual([bob, carol].sort());
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
      expect(r.response?.statusCode).toBe(400);
      expect(r.sent).toEqual([{ connectionId: me, data: JSON.stringify({ type: 'error', message }), json: { type: 'error', message } }]);
    }));

  it('a message over 128 KB is refused with 413 before parsing, with the default limit (nothing set)', () =>
    quietly(async () => {
      const h = new WsTestHarness();
      const { connectionId: me } = await h.connect(connect);
      const r = await h.invoke(send, { routeKey: 'send', connectionId: me, body: JSON.stringify({ action: 'send', text: 'x'.repeat(128 * 1024) }) });
      expect(r.response?.statusCode).toBe(413);
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
      expect(r.response?.statusCode).toBe(400);
      expect(await h.store.get(r.connectionId)).toBeUndefined();
      expect(h.open.has(r.connectionId)).toBe(false);
    }));
});
