// The client's per-room order and dedupe (src/client/streams.ts), its reconnect backoff and its
// token expiry reading: properties over arbitrary arrival orders, and the edge cases by hand.
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import fc from 'fast-check';
import { backoffDefaults, jwtExpiry, reconnectDelay } from '../../../src/client/index.ts';
import { Streams, roomKey, type Incoming } from '../../../src/client/streams.ts';

const make = (gapTimeoutMs = 1000) => {
  const delivered: Incoming[] = [];
  const fetched: [string, number][] = [];
  const streams = new Streams({ gapTimeoutMs, recentSize: 1000, deliver: (m) => delivered.push(m), fetch: (key, after) => fetched.push([key, after]) });
  return { streams, delivered, fetched };
};
const msg = (seq: number, room = 'r') => ({ type: 'message', room, seq, id: `m${seq}` });
const ingest = (streams: Streams, m: Incoming) => {
  const [key, seq] = Streams.keyOf(m)!;
  streams.ingest(key, seq, m);
};

afterEach(() => {
  jest.useRealTimers();
});

describe('per-room order and dedupe', () => {
  it('delivers any arrival order of a contiguous run, with any duplicates, once each and in sequence order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }).chain((n) =>
          fc.tuple(
            fc.constant(n),
            fc.shuffledSubarray(
              Array.from({ length: n }, (_, i) => i),
              { minLength: n },
            ),
            fc.array(fc.integer({ min: 0, max: n - 1 }), { maxLength: 20 }),
          ),
        ),
        ([n, order, dupes]) => {
          const { streams, delivered } = make();
          // The stream starts where the server said (a resume's position): 100.
          streams.rebase(roomKey('r'), 100);
          for (const i of [...order, ...dupes]) ingest(streams, msg(101 + i));
          streams.stop();
          expect(delivered.map((m) => m.seq)).toEqual(Array.from({ length: n }, (_, i) => 101 + i));
          expect(streams.holding).toBe(0);
        },
      ),
    );
  });

  it('holds a message after a gap, fetches the gap when it does not fill in time, and skips what the fetch shows was never sent', () => {
    jest.useFakeTimers();
    const { streams, delivered, fetched } = make(1000);
    streams.rebase(roomKey('r'), 10);
    ingest(streams, msg(11));
    ingest(streams, msg(14));
    ingest(streams, msg(13));
    expect(delivered.map((m) => m.seq)).toEqual([11]);
    expect(streams.holding).toBe(2);
    jest.advanceTimersByTime(999);
    expect(fetched).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(fetched).toEqual([['room:r', 11]]);
    // The history answer had nothing for 12: it may still be being written, so it is asked again…
    streams.settle(roomKey('r'));
    expect(delivered.map((m) => m.seq)).toEqual([11]);
    jest.advanceTimersByTime(1000);
    expect(fetched).toEqual([
      ['room:r', 11],
      ['room:r', 11],
    ]);
    // …and when the second answer has nothing either (a flush that failed before logging it), skipped.
    streams.settle(roomKey('r'));
    expect(delivered.map((m) => m.seq)).toEqual([11, 13, 14]);
    // 12 turning up late after all is delivered late, never dropped; a copy of 13 is dropped.
    ingest(streams, msg(12));
    ingest(streams, msg(13));
    expect(delivered.map((m) => m.seq)).toEqual([11, 13, 14, 12]);
  });

  it('a gap that fills before the timeout is never fetched', () => {
    jest.useFakeTimers();
    const { streams, delivered, fetched } = make(1000);
    streams.rebase(roomKey('r'), 0);
    ingest(streams, msg(2));
    jest.advanceTimersByTime(500);
    ingest(streams, msg(1));
    jest.advanceTimersByTime(5000);
    expect(fetched).toEqual([]);
    expect(delivered.map((m) => m.seq)).toEqual([1, 2]);
  });

  it('keeps rooms apart, and reports positions for a resume', () => {
    const { streams, delivered } = make();
    ingest(streams, msg(5, 'a'));
    ingest(streams, msg(900, 'b'));
    ingest(streams, msg(6, 'a'));
    ingest(streams, { type: 'note', useq: 3 });
    expect(delivered.map((m) => [m.room, m.seq ?? m.useq])).toEqual([
      ['a', 5],
      ['b', 900],
      ['a', 6],
      [undefined, 3],
    ]);
    expect(streams.positions()).toEqual({ rooms: { a: 6, b: 900 }, useq: 3 });
    streams.forget(roomKey('b'));
    expect(streams.positions().rooms).toEqual({ a: 6 });
  });

  it('a rebase past held messages delivers them first, in order, then continues after it', () => {
    const { streams, delivered } = make();
    streams.rebase(roomKey('r'), 0);
    ingest(streams, msg(3));
    ingest(streams, msg(5));
    streams.rebase(roomKey('r'), 4);
    ingest(streams, msg(6));
    streams.stop();
    expect(delivered.map((m) => m.seq)).toEqual([3, 5, 6]);
  });
});

describe('reconnect backoff: capped exponential with full jitter', () => {
  it('stays within [0, min(cap, base * 2^attempt)) and reaches the cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 0.9999, noNaN: true }), (attempt, r) => {
        const delay = reconnectDelay(attempt, backoffDefaults, () => r);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(Math.min(backoffDefaults.capMs, backoffDefaults.baseMs * 2 ** attempt));
      }),
    );
    expect(reconnectDelay(50, backoffDefaults, () => 0.9999)).toBe(backoffDefaults.capMs - 3);
    expect(reconnectDelay(3, backoffDefaults, () => 0)).toBe(0);
  });
});

describe('token expiry', () => {
  it("reads a JWT's exp in ms, and nothing from an opaque token", () => {
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    expect(jwtExpiry(`${part({ alg: 'RS256' })}.${part({ sub: 'a', exp: 1_900_000_000 })}.sig`)).toBe(1_900_000_000_000);
    expect(jwtExpiry('opaque-token')).toBeUndefined();
    expect(jwtExpiry('a.!!!.c')).toBeUndefined();
  });
});
