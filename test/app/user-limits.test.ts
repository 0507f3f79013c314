// Limits per user, not only per connection: one user's connections together are held to a message
// rate, and a user may have only so many connections open. Both live in the table (the rate
// limiter's row per user, the user index), so every instance of every function counts the same.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { WsTestHarness } from '../../src/testing/index.ts';

// Small limits, set before the handlers load (they read their environment once, as on Lambda).
Object.assign(process.env, { USER_RATE_PER_SECOND: '1', USER_RATE_BURST: '6', MAX_CONNECTIONS_PER_USER: '3', RATE_PER_SECOND: '1', RATE_BURST: '5' });
let connect: never;
let join: never;

beforeAll(async () => {
  ({ handler: connect } = (await import('../../handlers/connect.ts')) as never);
  ({ handler: join } = (await import('../../handlers/join.ts')) as never);
});

const as = (user: string) => ({ authorizer: { principalId: user, name: user, broadcast: false } });
const quietly = async <T>(fn: () => Promise<T>): Promise<T> => {
  const { log, error } = console;
  console.log = console.error = () => undefined;
  try {
    return await fn();
  } finally {
    Object.assign(console, { log, error });
  }
};

describe('per-user limits (the example)', () => {
  it("a user's connections together are held to the user's rate; another user is unaffected", () =>
    quietly(async () => {
      const h = new WsTestHarness();
      const mine = [];
      for (let i = 0; i < 3; i++) mine.push((await h.connect(connect, as('busy'))).connectionId);
      const { connectionId: other } = await h.connect(connect, as('calm'));
      // 3 connections x 4 messages: each within its own burst (5), 12 together past the user's (6).
      const answers = [];
      for (let round = 0; round < 4; round++) {
        for (const id of mine)
          answers.push(await h.invoke(join, { routeKey: 'join', connectionId: id, body: { action: 'join', room: 'lobby' }, ...as('busy') }));
      }
      const refused = answers.filter((r) => r.response?.statusCode === 429);
      expect(refused.length).toBeGreaterThanOrEqual(12 - 6 - 1);
      expect(refused[0]!.sent.map((s) => s.json)).toEqual([{ type: 'error', message: 'slow down: your connections together send too fast' }]);
      const calm = await h.invoke(join, { routeKey: 'join', connectionId: other, body: { action: 'join', room: 'lobby' }, ...as('calm') });
      expect(calm.response?.statusCode).toBe(200);
    }));

  it('a user may have MAX_CONNECTIONS_PER_USER connections open; the next $connect is refused with 429, and one more is fine once one closes', () =>
    quietly(async () => {
      const h = new WsTestHarness();
      const open = [];
      for (let i = 0; i < 3; i++) open.push(await h.connect(connect, as('many')));
      expect(open.every((c) => c.response?.statusCode === 200)).toBe(true);
      const refused = await h.connect(connect, as('many'));
      expect(refused.response?.statusCode).toBe(429);
      await expect(h.connect(connect, as('someone-else'))).resolves.toMatchObject({ response: { statusCode: 200 } });
      await h.store.disconnect(open[0]!.connectionId);
      await expect(h.connect(connect, as('many'))).resolves.toMatchObject({ response: { statusCode: 200 } });
    }));
});
