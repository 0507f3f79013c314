// Sessions that outlive connections, and the room log they resume from (src/store/sessions.ts,
// src/store/room-log.ts, src/sessions/*, the outbox's stamp.ts), with the real middleware, the
// real SDK over HTTP to a loopback @connections server, and dynalite. A clock the test moves
// stands in for the recovery window passing.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createError } from '@middy/util';
import { ConnectionStore, MemoryStore, disconnectSession, rateLimit, sessionHandler, wsHandler, type DeliveryReport } from '../../../src/index.ts';
import { MemoryRateLimiter } from '../../../src/store/rate-limit.ts';
import { destroyTransports } from '../../../src/transport.ts';
import { roomStream } from '../../../src/store/room-log.ts';
import { outboxDefaults } from '../../../middleware/outbox.ts';
import { flush } from '../../../src/outbox/flush.ts';
import { Outbox } from '../../../src/outbox/outbox.ts';
import { createSignedTransport } from '../../../src/management/signed-transport.ts';
import { makeWsEvent } from '../../../src/testing/events.ts';
import { startDynalite, type DynaliteHandle } from '../../helpers/dynalite.ts';
import { gone, startManagementServer, type ManagementServer } from '../../helpers/management-server.ts';

let db: DynaliteHandle;
let api: ManagementServer;
const goneIds = new Set<string>();
beforeAll(async () => {
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
  process.env.AWS_SECRET_ACCESS_KEY = 'secret';
  db = await startDynalite('sessions-test');
  api = await startManagementServer(({ connectionId }) => (goneIds.has(connectionId) ? gone : { status: 200 }), 'local');
  process.env.AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI = api.endpoint;
});
afterAll(async () => {
  delete process.env.AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI;
  destroyTransports();
  await api?.stop();
  await db?.stop();
});

let clock = Date.now();
let store: ConnectionStore | MemoryStore;
let n = 0;
const fresh = (prefix: string) => `${prefix}-${++n}-${Math.random().toString(36).slice(2, 8)}`;
beforeEach(() => {
  clock = Date.now();
  store = new ConnectionStore({ tableName: db.tableName, client: db.documentClient, sessions: { windowSeconds: 120 }, now: () => clock });
  api.delivered.length = 0;
});

const lambdaContext = () => {
  const started = Date.now();
  return { awsRequestId: 'r', getRemainingTimeInMillis: () => 10_000 - (Date.now() - started) } as never;
};
const options = () => ({ store, logger: false as const, errorLogger: false as const, connectGraceMs: 0 });
const received = (connectionId: string) => api.delivered.filter((d) => d.connectionId === connectionId).map((d) => JSON.parse(d.body));

/** A verified connection of `userId`: registered as $connect does. */
const connect = async (userId: string) => {
  const connectionId = fresh('conn');
  await store.connect(connectionId, { userId, name: userId });
  return connectionId;
};
const session = (event: unknown, context: never) => sessionHandler(options())(event as never, context);
const resume = async (connectionId: string, userId: string, body: Record<string, unknown> = {}) => {
  await session(makeWsEvent({ routeKey: 'resume', connectionId, authorizer: { principalId: userId }, body: { action: 'resume', ...body } }), lambdaContext());
  const frames = received(connectionId);
  return { reply: frames.find((f) => f.type === 'session'), replays: frames.filter((f) => f.type === 'replay') };
};
const drop = async (connectionId: string, userId: string, code = 1006) => {
  const event = makeWsEvent({ routeKey: '$disconnect', connectionId, authorizer: { principalId: userId } });
  (event.requestContext as unknown as Record<string, unknown>).disconnectStatusCode = code;
  return disconnectSession(store, event as never);
};
let report: DeliveryReport | undefined;
const say = async (room: string, text: string, also?: string) => {
  const handler = wsHandler(
    async (_e, context) => {
      const message = { type: 'message', room, text };
      context.outbox.toRoom(room, message);
      if (also) context.outbox.send(also, message);
    },
    { ...options(), onReport: (r) => void (report = r) },
  );
  await handler(makeWsEvent({ routeKey: 'send', body: {} }), lambdaContext());
};

describe('the room log', () => {
  it('stamps each room message with the next sequence, logs it, and a direct send of the same object carries the same stamp once', async () => {
    const room = fresh('room');
    const [a, b] = [await connect('u1'), await connect('u2')];
    await store.join(a, room);
    await store.join(b, room);
    for (const text of ['one', 'two', 'three']) await say(room, text, a);
    const seqs = received(b).map((m) => m.seq);
    expect(seqs[1]).toBe(seqs[0] + 1);
    expect(seqs[2]).toBe(seqs[0] + 2);
    expect(received(b).map((m) => [m.room, m.text])).toEqual([
      [room, 'one'],
      [room, 'two'],
      [room, 'three'],
    ]);
    // The sender, addressed directly and through the room, gets one copy, with the same seq.
    expect(received(a)).toEqual(received(b));
    expect(report!.sent + report!.gone.length + report!.failed.length).toBe(report!.queued);
    const log = await store.log!.read(roomStream(room), 0);
    expect(log.head).toBe(seqs[2]);
    expect(log.entries.map((e) => JSON.parse(new TextDecoder().decode(e.payload)).text)).toEqual(['one', 'two', 'three']);
  });

  it("one message object to two rooms gets each room's stamp; to one room twice, one sequence and one send", async () => {
    const [r1, r2] = [fresh('room'), fresh('room')];
    const a = await connect('u1');
    await store.join(a, r1);
    await store.join(a, r2);
    const handler = wsHandler(async (_e, context) => {
      const message = { type: 'message', text: 'both' };
      context.outbox.toRoom(r1, message);
      context.outbox.toRoom(r2, message);
      context.outbox.toRoom(r1, message);
    }, options());
    await handler(makeWsEvent({ routeKey: 'send', body: {} }), lambdaContext());
    const got = received(a);
    expect(got.map((m) => m.room).sort()).toEqual([r1, r2].sort());
    expect((await store.log!.read(roomStream(r1), 0)).entries).toHaveLength(1);
    expect((await store.log!.read(roomStream(r2), 0)).entries).toHaveLength(1);
  });

  it('gives concurrent invocations distinct, consecutive sequences (one order per room)', async () => {
    const room = fresh('room');
    const a = await connect('u1');
    await store.join(a, room);
    await Promise.all(Array.from({ length: 12 }, (_, i) => say(room, `m${i}`)));
    const seqs = received(a)
      .map((m) => m.seq)
      .sort((x, y) => x - y);
    expect(new Set(seqs).size).toBe(12);
    expect(seqs.at(-1) - seqs[0]).toBe(11);
  });

  it('a room spilled to the fan-out queue carries the stamped message, so the workers deliver the logged bytes', async () => {
    const room = fresh('room');
    const members = [await connect('u1'), await connect('u2'), await connect('u3')];
    for (const id of members) await store.join(id, room);
    // One member a page: the room is handed over a page in, as a big room would be.
    const paged = new ConnectionStore({ tableName: db.tableName, client: db.documentClient, sessions: { windowSeconds: 120 }, now: () => clock, pageSize: 1 });
    const box = new Outbox();
    box.toRoom(room, { type: 'message', text: 'to many' });
    const bodies: string[] = [];
    const report = await flush({
      entries: box.close(),
      discarded: 0,
      store: paged,
      roomLog: paged.log,
      transport: async () =>
        createSignedTransport({ endpoint: api.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } }),
      // Past one recipient, the rest of the room goes to the queue (the workers post what it carries).
      spill: {
        threshold: 1,
        queue: {
          send: async (b) => {
            bodies.push(...b);
            return { failed: [] };
          },
        },
        endpoint: () => api.endpoint,
        origin: 'test',
      },
      remainingMs: 10_000,
      options: outboxDefaults,
    });
    expect(report.spilled).toBe(1);
    const [logged] = (await store.log!.read(roomStream(room), 0)).entries;
    const spilled = JSON.parse(bodies[0]!);
    expect(spilled.payload).toBe(new TextDecoder().decode(logged!.payload));
    expect(JSON.parse(spilled.payload)).toMatchObject({ text: 'to many', room, seq: expect.any(Number) });
  });

  it('filters entries past the window on read (TTL deletion is lazy): a read after it is a lost start', async () => {
    const room = fresh('room');
    const a = await connect('u1');
    await store.join(a, room);
    await say(room, 'soon gone');
    const before = await store.log!.read(roomStream(room), 0);
    expect(before.entries).toHaveLength(1);
    clock += 121_000;
    const after = await store.log!.read(roomStream(room), 0);
    expect(after.entries).toEqual([]);
    expect(after.head).toBe(before.head);
  });

  it('does not send a room message it could not log: the entry is unresolved, the report still adds up', async () => {
    const broken = new ConnectionStore({ tableName: db.tableName, client: db.documentClient, sessions: { windowSeconds: 120 }, now: () => clock });
    (broken.log as unknown as { tableName: string }).tableName = 'no-such-table';
    Object.defineProperty(broken.log, 'allocate', {
      value: async () => {
        throw new Error('ResourceNotFoundException: no-such-table');
      },
    });
    const room = fresh('room');
    const a = await connect('u1');
    await store.join(a, room);
    const handler = wsHandler(async (_e, context) => context.outbox.toRoom(room, { type: 'message', text: 'x' }), {
      ...options(),
      store: broken,
      onReport: (r) => void (report = r),
    });
    await handler(makeWsEvent({ routeKey: 'send', body: {} }), lambdaContext());
    expect(received(a)).toEqual([]);
    expect(report!.unresolved).toEqual([expect.objectContaining({ target: 'room', room, reason: 'store', error: expect.stringContaining('room log') })]);
    expect(report!.sent + report!.gone.length + report!.failed.length).toBe(report!.queued);
  });
});

// The same contract in memory (MemoryStore, for the testing helper) as on DynamoDB.
describe.each([
  [
    'ConnectionStore (dynalite)',
    () => new ConnectionStore({ tableName: db.tableName, client: db.documentClient, sessions: { windowSeconds: 120 }, now: () => clock }),
  ],
  ['MemoryStore', () => new MemoryStore({ sessions: { windowSeconds: 120 }, now: () => clock })],
])('sessions, %s', (_, makeStore) => {
  beforeEach(() => {
    store = makeStore();
  });

  it('a first resume begins a session; a drop keeps it; a resume within the window moves the rooms and replays what was missed, in order', async () => {
    const [room, user] = [fresh('room'), fresh('alice')];
    const c1 = await connect(user);
    const first = await resume(c1, user);
    expect(first.reply).toMatchObject({ type: 'session', resumed: false, missed: 0, reset: [] });
    await store.join(c1, room);
    await say(room, 'before');
    const lastSeq = received(c1).at(-1).seq;
    await drop(c1, user); // a blip: 1006, no close frame
    expect(await store.get(c1)).toBeUndefined();
    for (const text of ['while away 1', 'while away 2']) await say(room, text);
    clock += 60_000; // within the 2-minute window

    const c2 = await connect(user);
    const { reply, replays } = await resume(c2, user, { session: first.reply.session, rooms: { [room]: lastSeq } });
    expect(reply).toMatchObject({ resumed: true, missed: 2, reset: [], rooms: [room], session: first.reply.session });
    const roomReplay = replays.find((r) => r.room === room);
    expect(roomReplay.messages.map((m: { text: string; seq: number }) => [m.text, m.seq])).toEqual([
      ['while away 1', lastSeq + 1],
      ['while away 2', lastSeq + 2],
    ]);
    // The room moved: the next message reaches the new connection live.
    await say(room, 'after');
    expect(received(c2).at(-1)).toMatchObject({ text: 'after', seq: lastSeq + 3 });
    expect((await store.get(c2))?.rooms).toEqual([room]);
  });

  it('a room joined before its first message: a resume without a position replays from the join, with no reset', async () => {
    const [room, user] = [fresh('room'), fresh('ann')];
    const c1 = await connect(user);
    const { reply } = await resume(c1, user);
    await store.join(c1, room); // the room has no log yet: the session records position 0
    await drop(c1, user);
    await say(room, 'first ever');
    const c2 = await connect(user);
    const back = await resume(c2, user, { session: reply.session });
    expect(back.reply).toMatchObject({ resumed: true, missed: 1, reset: [] });
  });

  it('a resume while API Gateway still holds the old socket closes it and takes its rows', async () => {
    const [room, user] = [fresh('room'), fresh('bob')];
    const c1 = await connect(user);
    const { reply } = await resume(c1, user);
    await store.join(c1, room);
    const c2 = await connect(user);
    await resume(c2, user, { session: reply.session });
    expect(await store.get(c1)).toBeUndefined();
    expect(api.requests.some((q) => q.method === 'DELETE' && q.connectionId === c1)).toBe(true);
    const members: string[] = [];
    for await (const id of store.members(room)) members.push(id);
    expect(members).toEqual([c2]);
    // Its late $disconnect does not touch the session, which c2 holds now.
    await drop(c1, user, 1000);
    const c3 = await connect(user);
    expect((await resume(c3, user, { session: reply.session })).reply).toMatchObject({ resumed: true });
  });

  it("refuses a resume by another user: a fresh session for the caller, the owner's session untouched", async () => {
    const [room, alice, mallory] = [fresh('room'), fresh('alice'), fresh('mallory')];
    const c1 = await connect(alice);
    const { reply } = await resume(c1, alice);
    await store.join(c1, room);
    await drop(c1, alice);
    await say(room, 'private');
    const m1 = await connect(mallory);
    const stolen = await resume(m1, mallory, { session: reply.session, rooms: { [room]: 0 } });
    expect(stolen.reply).toMatchObject({ resumed: false, missed: 0, refused: 'the session belongs to another user', reset: [{ room, reason: 'refused' }] });
    expect(stolen.reply.session).not.toBe(reply.session);
    expect(received(m1).some((f) => JSON.stringify(f).includes('private'))).toBe(false);
    expect((await store.get(m1))?.rooms).toEqual([]);
    // Alice still resumes, and gets the message.
    const c2 = await connect(alice);
    const back = await resume(c2, alice, { session: reply.session });
    expect(back.reply).toMatchObject({ resumed: true, missed: 1 });
  });

  it('past the window: a reset naming the rooms, never silence', async () => {
    const [room, user] = [fresh('room'), fresh('carol')];
    const c1 = await connect(user);
    const { reply } = await resume(c1, user);
    await store.join(c1, room);
    await drop(c1, user);
    await say(room, 'missed for good');
    clock += 121_000;
    const c2 = await connect(user);
    const late = await resume(c2, user, { session: reply.session, rooms: { [room]: 5 }, useq: 1 });
    expect(late.reply).toMatchObject({
      resumed: false,
      refused: 'the session ended or its recovery window passed',
      reset: [
        { room, reason: 'unknown-session' },
        { user: true, reason: 'unknown-session' },
      ],
    });
  });

  it('what was missed is gone from the log though the session lives: a reset for that room', async () => {
    const [room, user] = [fresh('room'), fresh('dan')];
    const c1 = await connect(user);
    const { reply } = await resume(c1, user);
    await store.join(c1, room);
    await say(room, 'early');
    const seq = received(c1).at(-1).seq;
    clock += 121_000; // the entry expired, the session is still held by c1
    await drop(c1, user);
    const c2 = await connect(user);
    const back = await resume(c2, user, { session: reply.session, rooms: { [room]: seq - 1 } });
    expect(back.reply).toMatchObject({ resumed: true, missed: 0, reset: [{ room, reason: 'expired', after: seq }] });
  });

  it('an explicit close (1000) ends the session at once; a leave ends the membership at once', async () => {
    const [r1, r2, user] = [fresh('room'), fresh('room'), fresh('erin')];
    const c1 = await connect(user);
    const { reply } = await resume(c1, user);
    await store.join(c1, r1);
    await store.join(c1, r2);
    await store.leave(c1, r2);
    await drop(c1, user);
    const c2 = await connect(user);
    const back = await resume(c2, user, { session: reply.session, rooms: { [r1]: 0, [r2]: 0 } });
    expect(back.reply).toMatchObject({ resumed: true, rooms: [r1], reset: [{ room: r2, reason: 'not-in-session' }] });
    expect((await drop(c2, user, 1000)).ended).toBe(true);
    const c3 = await connect(user);
    expect((await resume(c3, user, { session: reply.session })).reply).toMatchObject({
      resumed: false,
      refused: 'the session ended or its recovery window passed',
    });
  });

  it('toUser messages resume too', async () => {
    const user = fresh('fay');
    const c1 = await connect(user);
    const { reply } = await resume(c1, user);
    const toUser = wsHandler(async (_e, context) => context.outbox.toUser(user, { type: 'note', text: 'for you' }), options());
    await toUser(makeWsEvent({ routeKey: 'send', body: {} }), lambdaContext());
    const useq = received(c1).at(-1).useq;
    expect(typeof useq).toBe('number');
    await drop(c1, user);
    await toUser(makeWsEvent({ routeKey: 'send', body: {} }), lambdaContext());
    const c2 = await connect(user);
    const back = await resume(c2, user, { session: reply.session, useq });
    expect(back.reply).toMatchObject({ resumed: true, missed: 1 });
    expect(back.replays.find((r) => r.user).messages).toEqual([{ type: 'note', text: 'for you', useq: useq + 1 }]);
  });

  it("history: a member reads a room's log after a sequence; a non-member is refused", async () => {
    const [room, user] = [fresh('room'), fresh('gil')];
    const c1 = await connect(user);
    await resume(c1, user);
    await store.join(c1, room);
    for (const text of ['a', 'b', 'c']) await say(room, text);
    const seqs = received(c1)
      .filter((m) => m.type === 'message')
      .map((m) => m.seq);
    await session(
      makeWsEvent({ routeKey: 'history', connectionId: c1, authorizer: { principalId: user }, body: { action: 'history', room, after: seqs[0] } }),
      lambdaContext(),
    );
    expect(received(c1).at(-1)).toMatchObject({ type: 'replay', room, head: seqs[2], messages: [{ text: 'b' }, { text: 'c' }] });
    const outsider = await connect(fresh('hal'));
    await session(
      makeWsEvent({ routeKey: 'history', connectionId: outsider, authorizer: { principalId: 'hal' }, body: { action: 'history', room, after: 0 } }),
      lambdaContext(),
    );
    expect(received(outsider)).toEqual([{ type: 'error', message: `not a member of room "${room}"` }]);
  });

  // Client sends (ws-outbox/client's `$cid`): answered, and run once across a resend on a new
  // connection (src/sessions/acks.ts). The route counts its runs; what each connection got is read
  // from the @connections server.
  describe('acknowledged client sends', () => {
    let runs = 0;
    let lastBody: unknown;
    let gate: Promise<void> | undefined;
    let answer: (() => unknown) | undefined;
    // Made per call: the store is this test's (beforeEach makes a new one).
    const post = (event: unknown, context: never) =>
      wsHandler(async (event, context) => {
        runs++;
        lastBody = event.body;
        await gate;
        const result = answer?.();
        context.outbox.send(event.requestContext.connectionId, { type: 'posted', text: event.body.text });
        return result as never;
      }, options())(event as never, context);
    beforeEach(() => {
      runs = 0;
      gate = undefined;
      answer = undefined;
    });
    const postFrom = (connectionId: string, userId: string, body: Record<string, unknown>, context = lambdaContext()) =>
      post(makeWsEvent({ routeKey: 'post', connectionId, authorizer: { principalId: userId }, body: { action: 'post', ...body } }), context);

    it('answers a send with an ack after what the route sent; a resend on a new connection is acknowledged again and does not run', async () => {
      const user = fresh('ann');
      const [c1, c2] = [await connect(user), await connect(user)];
      await postFrom(c1, user, { text: 'hi', $cid: 'k1-a', cid: 'the app s own field' });
      // The route sees the app's fields only: `$cid` is taken out, an own `cid` is left alone.
      expect(lastBody).toEqual({ action: 'post', text: 'hi', cid: 'the app s own field' });
      expect(received(c1)).toEqual([
        { type: 'posted', text: 'hi' },
        { type: 'ack', cid: 'k1-a' },
      ]);
      await postFrom(c2, user, { text: 'hi', $cid: 'k1-a' });
      expect(runs).toBe(1);
      expect(received(c2)).toEqual([{ type: 'ack', cid: 'k1-a', duplicate: true }]);
      // The claim is the user's: another user's send with the same cid runs.
      const other = fresh('bob');
      const c3 = await connect(other);
      await postFrom(c3, other, { text: 'yo', $cid: 'k1-a' });
      expect(runs).toBe(2);
      expect(received(c3).at(-1)).toEqual({ type: 'ack', cid: 'k1-a' });
    });

    it('a claim past its lifetime (TTL is lazy) counts as none: the resend runs', async () => {
      const user = fresh('cy');
      const c1 = await connect(user);
      await postFrom(c1, user, { text: 'a', $cid: 'old-1' });
      clock += (2 * 60 * 60 + 120 + 1) * 1000;
      const c2 = await connect(user);
      await postFrom(c2, user, { text: 'a', $cid: 'old-1' });
      expect(runs).toBe(2);
      expect(received(c2)).toEqual([
        { type: 'posted', text: 'a' },
        { type: 'ack', cid: 'old-1' },
      ]);
    });

    it('a route that throws: its error reply names the cid, the claim is released, and the resend runs', async () => {
      const user = fresh('dee');
      const c1 = await connect(user);
      answer = () => {
        throw createError(403, 'not now');
      };
      await postFrom(c1, user, { text: 'x', $cid: 'e-1' });
      expect(received(c1)).toEqual([{ type: 'error', message: 'not now', cid: 'e-1' }]);
      answer = undefined;
      await postFrom(c1, user, { text: 'x', $cid: 'e-1' });
      expect(runs).toBe(2);
      expect(received(c1).at(-1)).toEqual({ type: 'ack', cid: 'e-1' });
    });

    it('a route that answers non-2xx is a refusal naming the cid; it ran, so its claim is kept', async () => {
      const user = fresh('eve');
      const c1 = await connect(user);
      answer = () => ({ statusCode: 409 });
      await postFrom(c1, user, { text: 'x', $cid: 'n-1' });
      expect(received(c1)).toEqual([
        { type: 'posted', text: 'x' },
        { type: 'error', cid: 'n-1', message: 'the route answered 409' },
      ]);
      // It ran (its messages went out): the claim is kept, and a resend does not run it again.
      answer = undefined;
      await postFrom(c1, user, { text: 'x', $cid: 'n-1' });
      expect(runs).toBe(1);
      expect(received(c1).at(-1)).toEqual({ type: 'ack', cid: 'n-1', duplicate: true });
    });

    it('a send refused before the route runs (a rate limit) gets the error naming its cid, and costs no claim', async () => {
      const user = fresh('fay');
      const c1 = await connect(user);
      const limited = wsHandler(async (_event, context) => {
        runs++;
        context.outbox.reply({ type: 'ok' });
      }, options()).use(rateLimit({ ratePerSecond: 0.001, burst: 1, limiter: new MemoryRateLimiter() }));
      const send = (cid: string) =>
        limited(makeWsEvent({ routeKey: 'post', connectionId: c1, authorizer: { principalId: user }, body: { action: 'post', $cid: cid } }), lambdaContext());
      await send('r-1');
      await send('r-2');
      expect(received(c1)).toEqual([{ type: 'ok' }, { type: 'ack', cid: 'r-1' }, { type: 'error', message: 'slow down', cid: 'r-2' }]);
      // Not claimed: the same cid through a route that is not limited runs.
      await postFrom(c1, user, { text: 'again', $cid: 'r-2' });
      expect(received(c1).at(-1)).toEqual({ type: 'ack', cid: 'r-2' });
    });

    it('a resend while the first copy still runs waits for it, then is acknowledged as a duplicate', async () => {
      const user = fresh('gus');
      const [c1, c2] = [await connect(user), await connect(user)];
      let open!: () => void;
      gate = new Promise((resolve) => (open = resolve));
      const first = postFrom(c1, user, { text: 'slow', $cid: 's-1' });
      // The first copy is inside the route (so it holds the claim) before the resend comes.
      while (runs === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      gate = undefined;
      const second = postFrom(c2, user, { text: 'slow', $cid: 's-1' });
      setTimeout(() => open(), 150);
      await Promise.all([first, second]);
      expect(runs).toBe(1);
      expect(received(c1).at(-1)).toEqual({ type: 'ack', cid: 's-1' });
      expect(received(c2)).toEqual([{ type: 'ack', cid: 's-1', duplicate: true }]);
    });

    it('a first copy still running past the wait: the resend is refused, saying the outcome is not known, never silent', async () => {
      const user = fresh('hy');
      const [c1, c2] = [await connect(user), await connect(user)];
      let open!: () => void;
      gate = new Promise((resolve) => (open = resolve));
      const first = postFrom(c1, user, { text: 'stuck', $cid: 't-1' });
      // The first copy is inside the route (so it holds the claim) before the resend comes.
      while (runs === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      gate = undefined;
      // A quarter of 1.2 s left: the resend waits 300 ms at most.
      const started = Date.now();
      await postFrom(c2, user, { text: 'stuck', $cid: 't-1' }, { awsRequestId: 'r2', getRemainingTimeInMillis: () => 1200 - (Date.now() - started) } as never);
      expect(received(c2)).toEqual([
        {
          type: 'error',
          cid: 't-1',
          unknown: true,
          message: 'an earlier copy of this message is still being handled: whether it succeeds is not known here',
        },
      ]);
      open();
      await first;
      expect(runs).toBe(1);
    });

    it('a store that hangs on the claim: the send is refused within its budget, naming the cid, and the route does not run', async () => {
      const user = fresh('jo');
      const c1 = await connect(user);
      const sessions = (store as unknown as { sessions: { claimSend: (...args: any[]) => Promise<unknown> } }).sessions;
      const original = sessions.claimSend;
      // Never answers; only the caller's signal ends it, as a request to a hung DynamoDB.
      sessions.claimSend = (_user: string, _cid: string, options?: { signal?: AbortSignal }) =>
        new Promise((_resolve, reject) => options?.signal?.addEventListener('abort', () => reject(options.signal!.reason)));
      try {
        const started = Date.now();
        // 2 s left: the claim gets a quarter of it.
        await postFrom(c1, user, { text: 'x', $cid: 'h-1' }, { awsRequestId: 'r', getRemainingTimeInMillis: () => 2000 - (Date.now() - started) } as never);
        expect(Date.now() - started).toBeLessThan(1500);
        expect(runs).toBe(0);
        expect(received(c1)).toEqual([{ type: 'error', message: 'Internal server error', cid: 'h-1' }]);
      } finally {
        sessions.claimSend = original;
      }
    });

    it("a store that hangs on the claim's end and ignores its signal: the ack still goes, and the invocation ends by its deadline", async () => {
      const user = fresh('lu');
      const c1 = await connect(user);
      const sessions = (store as unknown as { sessions: { finishSend: (...args: any[]) => Promise<void> } }).sessions;
      const original = sessions.finishSend;
      let asked = 0;
      // Never settles, signal or not: the worst a store client can do.
      sessions.finishSend = () => {
        asked += 1;
        return new Promise<void>(() => undefined);
      };
      try {
        const started = Date.now();
        // 1.5 s left, less the outbox's safety margin: the flush's deadline bounds the wait.
        await postFrom(c1, user, { text: 'x', $cid: 'f-1' }, { awsRequestId: 'r', getRemainingTimeInMillis: () => 1500 - (Date.now() - started) } as never);
        expect(Date.now() - started).toBeLessThan(1500);
        expect(asked).toBe(1);
        expect(runs).toBe(1);
        expect(received(c1)).toEqual([
          { type: 'posted', text: 'x' },
          { type: 'ack', cid: 'f-1' },
        ]);
      } finally {
        sessions.finishSend = original;
      }
    });

    it("a user onError that answers early: the refusal names the cid, and an error's internals stay hidden", async () => {
      const user = fresh('kit');
      const c1 = await connect(user);
      const leaky = wsHandler(async () => {
        throw new Error('DB password=hunter2 at 10.0.0.5');
      }, options()).onError(() => ({ statusCode: 400 }));
      await leaky(
        makeWsEvent({ routeKey: 'post', connectionId: c1, authorizer: { principalId: user }, body: { action: 'post', $cid: 'u-1' } }),
        lambdaContext(),
      );
      expect(received(c1)).toEqual([{ type: 'error', cid: 'u-1', message: 'Internal server error' }]);
    });

    it('a body over maxBodyBytes is refused (413) naming its cid, read from the tail ws-outbox/client writes it in; the route does not run', async () => {
      const user = fresh('max');
      const c1 = await connect(user);
      const small = wsHandler(
        async () => {
          runs++;
        },
        { ...options(), maxBodyBytes: 200 },
      );
      const event = (body: Record<string, unknown>) => makeWsEvent({ routeKey: 'post', connectionId: c1, authorizer: { principalId: user }, body });
      await small(event({ action: 'post', text: 'x'.repeat(300), $cid: 'big-1' }), lambdaContext());
      // Anywhere else, it is not the client's: the refusal names none.
      await small(event({ $cid: 'big-2', action: 'post', text: 'x'.repeat(300) }), lambdaContext());
      expect(runs).toBe(0);
      expect(received(c1)).toEqual([
        { type: 'error', message: 'message is larger than 200 bytes', cid: 'big-1' },
        { type: 'error', message: 'message is larger than 200 bytes' },
      ]);
    });

    it('a malformed cid is refused (400) without running; a body without one gets no ack', async () => {
      const user = fresh('ida');
      const c1 = await connect(user);
      await postFrom(c1, user, { text: 'x', $cid: 'has space' });
      expect(received(c1)).toEqual([{ type: 'error', message: '"$cid" must be 1 to 64 characters of A-Z, a-z, 0-9, "-" and "_"' }]);
      await postFrom(c1, user, { text: 'plain' });
      expect(runs).toBe(1);
      expect(received(c1).at(-1)).toEqual({ type: 'posted', text: 'plain' });
    });
  });
});
