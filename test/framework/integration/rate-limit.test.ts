// The per-connection rate limit (src/store/rate-limit.ts, middleware/rate-limit.ts): GCRA in
// memory and in DynamoDB (dynalite), with a clock the test controls.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { rateLimit } from '../../../middleware/rate-limit.ts';
import { DynamoRateLimiter, MemoryRateLimiter, type RateLimiter } from '../../../src/store/rate-limit.ts';
import { makeWsEvent } from '../../../src/testing/events.ts';
import type { DocumentClient } from '../../../src/store/dynamodb/document-client.ts';
import { startDynalite, storeClientKinds, type DynaliteHandle, type StoreClientKind } from '../../helpers/dynalite.ts';

let db: DynaliteHandle;
beforeAll(async () => {
  db = await startDynalite('rate-limit-test');
});
afterAll(async () => {
  await db?.stop();
});

const rule = { ratePerSecond: 5, burst: 3 }; // one message per 200 ms, three at once

/** Which of `times` (ms) are allowed, in order. */
const pattern = async (limiter: RateLimiter, key: string, times: number[]) => {
  const out: boolean[] = [];
  for (const t of times) out.push((await limiter.take(key, rule, t)).allowed);
  return out;
};

// A client of that kind that counts the requests it sends: what the limiter costs in DynamoDB writes.
const countingClient = (kind: StoreClientKind) => {
  const counter = { sent: 0 };
  if (kind === 'sdk') {
    const client = DynamoDBDocumentClient.from(db.client);
    client.middlewareStack.add(
      (next) => async (args) => {
        counter.sent++;
        return next(args);
      },
      { step: 'initialize' },
    );
    return { client, counter };
  }
  const client: DocumentClient = {
    send: (command, options) => {
      counter.sent++;
      return db.leanClient.send(command, options);
    },
    destroy: () => {},
  };
  return { client, counter };
};

const t0 = 1_800_000_000_000;

describe.each([
  ['MemoryRateLimiter', () => new MemoryRateLimiter()],
  ...storeClientKinds.map((kind): [string, () => RateLimiter] => [
    `DynamoRateLimiter (dynalite, ${kind} client)`,
    () => new DynamoRateLimiter({ tableName: db.tableName, client: db.storeClient(kind) }),
  ]),
])('%s', (_, make) => {
  it('allows the burst at once, then one message per interval', async () => {
    const key = `k-${Math.random()}`;
    // 3 at t0 (the burst), a 4th refused, one more 200 ms later, then refused again at once.
    expect(await pattern(make(), key, [t0, t0, t0, t0, t0 + 200, t0 + 201])).toEqual([true, true, true, false, true, false]);
  });

  it('a quiet spell refills the bucket up to the burst, never beyond', async () => {
    const key = `k-${Math.random()}`;
    const limiter = make();
    await pattern(limiter, key, [t0, t0, t0]);
    // An hour later: three again, not thousands.
    const later = t0 + 3_600_000;
    expect(await pattern(limiter, key, [later, later, later, later])).toEqual([true, true, true, false]);
  });

  it('keys are independent: one flooding key does not slow another', async () => {
    const limiter = make();
    const [flood, calm] = [`f-${Math.random()}`, `c-${Math.random()}`];
    expect((await pattern(limiter, flood, Array(10).fill(t0))).filter(Boolean)).toHaveLength(3);
    expect(await pattern(limiter, calm, [t0, t0 + 250, t0 + 500])).toEqual([true, true, true]);
  });
});

describe.each(storeClientKinds)('DynamoRateLimiter (%s client)', (kind) => {
  it('holds across instances: two limiters on one table share the bucket', async () => {
    const key = `shared-${Math.random()}`;
    const a = new DynamoRateLimiter({ tableName: db.tableName, client: db.storeClient(kind) });
    const b = new DynamoRateLimiter({ tableName: db.tableName, client: db.storeClient(kind) });
    const seen = [];
    for (let i = 0; i < 6; i++) seen.push((await (i % 2 ? a : b).take(key, rule, t0)).allowed);
    expect(seen.filter(Boolean)).toHaveLength(3);
  });

  it('a message that fits is not refused when the clock moves past tat between its two writes', async () => {
    // The first write fails because tat is a little ahead (another instance's message, or this
    // write landed and the SDK retried it); by the second write the clock has passed tat. Both
    // conditions on the fresh clock alone would fail, and refuse a message the bucket has room for.
    const ticks = [t0, t0 + 100, t0 + 300];
    const limiter = new DynamoRateLimiter({ tableName: db.tableName, client: db.storeClient(kind), now: () => ticks.shift() ?? t0 + 300 });
    const key = `race-${Math.random()}`;
    expect((await limiter.take(key, rule)).allowed).toBe(true); // tat = t0 + 200
    expect((await limiter.take(key, rule)).allowed).toBe(true); // A at t0+100 fails, B at t0+300 passes
  });

  it('costs one write at a normal pace, and none for a flood refused within one interval on the same instance', async () => {
    const { client, counter } = countingClient(kind);
    const limiter = new DynamoRateLimiter({ tableName: db.tableName, client });
    const key = `cost-${Math.random()}`;
    await limiter.take(key, rule, t0);
    await limiter.take(key, rule, t0 + 1000);
    expect(counter.sent).toBe(2);
    counter.sent = 0;
    await pattern(limiter, key, [t0 + 1000, t0 + 1000]); // the burst: two more, two writes each at most
    const burstWrites = counter.sent;
    expect(burstWrites).toBeLessThanOrEqual(4);
    counter.sent = 0;
    const flood = await pattern(limiter, key, Array(50).fill(t0 + 1001));
    expect(flood.every((allowed) => !allowed)).toBe(true);
    expect(counter.sent).toBeLessThanOrEqual(2); // the first refusal asks DynamoDB; the rest are refused in memory
  });
});

describe('rateLimit() middleware', () => {
  const run = async (mw: ReturnType<typeof rateLimit>, event: unknown) =>
    mw.before!({ event, context: {}, response: undefined, error: undefined, internal: {} } as never);

  it('refuses a client message past the limit with a 429 "slow down", and never limits $connect or $disconnect', async () => {
    const mw = rateLimit({ ratePerSecond: 1, burst: 1, limiter: new MemoryRateLimiter() });
    const message = makeWsEvent({ routeKey: 'send', connectionId: 'c1', body: {} });
    await run(mw, message);
    await expect(run(mw, message)).rejects.toMatchObject({ statusCode: 429, message: 'slow down', expose: true });
    for (const routeKey of ['$connect', '$disconnect']) {
      for (let i = 0; i < 3; i++) await run(mw, makeWsEvent({ routeKey, connectionId: 'c1' }));
    }
  });

  it('refuses nonsense options when it is built', () => {
    expect(() => rateLimit({ ratePerSecond: 0 })).toThrow(/rateLimit ratePerSecond/);
    expect(() => rateLimit({ burst: 0.5 })).toThrow(/rateLimit burst must be an integer/);
  });
});
