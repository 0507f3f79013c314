// ws-outbox/client against a real WebSocket server on loopback (the `ws` package's), which plays a
// server the test steers: answers or not, drops sockets without a close frame, counts connections.
// The blip drive through the real app is test/app/resume.test.ts; this is the client's own edges.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { SendTooLargeError, WsOutboxClient, type ClientOptions } from '../../../src/client/index.ts';

let server: WebSocketServer;
let url: string;
/** What the server does with each frame of a socket; default: answer resume and ping. */
let behaviour: (socket: WebSocket, frame: any) => void;
const frames: { socket: WebSocket; frame: any }[] = [];
const connections: { socket: WebSocket; url: string }[] = [];
const closes: number[] = [];

const answering = (socket: WebSocket, frame: any) => {
  if (frame.action === 'resume')
    socket.send(
      JSON.stringify({
        type: 'session',
        session: frame.session ?? 'tok-1',
        connectionId: `c${connections.length}`,
        resumed: frame.session !== null,
        missed: 0,
        reset: [],
        rooms: [],
      }),
    );
  if (frame.action === 'ping') socket.send(JSON.stringify({ type: 'pong' }));
};

beforeAll(async () => {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  server.on('connection', (socket, req) => {
    connections.push({ socket, url: req.url ?? '' });
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data));
      frames.push({ socket, frame });
      behaviour(socket, frame);
    });
    socket.on('close', (code) => closes.push(code));
  });
});
afterAll(async () => {
  for (const c of server.clients) c.terminate();
  await new Promise((resolve) => server.close(resolve));
});

const clients: WsOutboxClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  // A reconnect the test's last moment started reaches the server just after: let it land (and
  // close) here, or it would be the next test's connections[0].
  await new Promise((resolve) => setTimeout(resolve, 100));
  frames.length = 0;
  connections.length = 0;
  closes.length = 0;
});
const make = (options: Partial<ClientOptions> = {}) => {
  const client = new WsOutboxClient({ url, WebSocket: WebSocket as never, backoff: { baseMs: 50, capMs: 100 }, ...options });
  clients.push(client);
  const events: { type: string; value: any }[] = [];
  for (const type of ['open', 'resumed', 'reset', 'message', 'close', 'reconnecting', 'error', 'duplicate', 'ack', 'refused'] as const)
    client.on(type, (value) => events.push({ type, value }));
  return { client, events, count: (type: string) => events.filter((e) => e.type === type).length };
};
const until = async (predicate: () => boolean, what: string, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe('ws-outbox/client on a real socket', () => {
  it('resumes with its token after a drop without a close frame, and sends what was queued meanwhile in order', async () => {
    behaviour = answering;
    const tokens: number[] = [];
    const { client, count } = make({ token: async () => `t${tokens.push(Date.now())}` });
    await until(() => count('open') === 1, 'open');
    expect(connections[0]!.url).toBe('/?token=t1');
    expect(frames[0]!.frame).toEqual({ action: 'resume', session: null, rooms: {} });
    connections[0]!.socket.terminate();
    // The events, not only the state: with full jitter the reconnect can be back to open between two polls.
    await until(() => client.state !== 'open' || count('reconnecting') > 0 || count('open') > 1, 'noticed the drop');
    client.send({ n: 1 });
    client.send({ n: 2 });
    await until(() => count('open') === 2, 'reopened');
    expect(connections[1]!.url).toBe('/?token=t2'); // the provider is asked at every connect
    // Open on the client's side can come before the server has read the queued frames.
    const onSecond = () => frames.filter((f) => f.socket === connections[1]!.socket).map((f) => f.frame);
    await until(() => onSecond().length >= 3, 'the queued sends reached the server');
    expect(onSecond()).toEqual([{ action: 'resume', session: 'tok-1', rooms: {} }, { n: 1 }, { n: 2 }]);
    expect(count('resumed')).toBe(1);
  });

  it('close() sends 1000 (the server ends the session) and never reconnects', async () => {
    behaviour = answering;
    const { client, count, events } = make();
    await until(() => count('open') === 1, 'open');
    client.close();
    await until(() => closes.length === 1, 'the server saw the close');
    expect(closes).toEqual([1000]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(connections).toHaveLength(1);
    expect(events.at(-1)).toEqual({ type: 'close', value: { code: 1000, reason: 'client closed', willReconnect: false, unsent: 0 } });
    expect(() => client.send({})).toThrow(/closed/);
  });

  it('pings after keepaliveMs without sending, and drops a socket that does not answer (half-open)', async () => {
    let answerPings = true;
    behaviour = (socket, frame) => {
      if (frame.action !== 'ping' || answerPings) answering(socket, frame);
    };
    const { count } = make({ keepaliveMs: 150, pongTimeoutMs: 200 });
    await until(() => count('open') === 1, 'open');
    await until(() => frames.filter((f) => f.frame.action === 'ping').length >= 2, 'two pings');
    expect(connections).toHaveLength(1);
    answerPings = false;
    await until(() => count('open') === 2, 'reconnected after an unanswered ping', 3000);
    expect(connections).toHaveLength(2);
  });

  it('a resume that gets no answer is retried on a new connection', async () => {
    let silent = true;
    behaviour = (socket, frame) => {
      if (!silent) answering(socket, frame);
    };
    const { count } = make({ resumeTimeoutMs: 200 });
    await until(() => connections.length >= 2, 'a second connection');
    silent = false;
    await until(() => count('open') === 1, 'open at last');
  });

  it('a token provider that fails is reported and retried', async () => {
    behaviour = answering;
    let calls = 0;
    const { count, events } = make({
      token: async () => {
        if (++calls < 3) throw new Error('issuer down');
        return 'ok';
      },
    });
    await until(() => count('open') === 1, 'open after two failures');
    expect(events.filter((e) => e.type === 'error').map((e) => e.value.message)).toEqual([
      'the token provider failed: issuer down',
      'the token provider failed: issuer down',
    ]);
  });

  it('sessions: false skips the resume: open at once, sends go out as they are', async () => {
    behaviour = () => undefined;
    const { client, count } = make({ sessions: false });
    await until(() => count('open') === 1, 'open');
    client.send({ action: 'send', text: 'hi' });
    await until(() => frames.length === 1, 'the send');
    expect(frames.map((f) => f.frame)).toEqual([{ action: 'send', text: 'hi' }]);
  });

  it('holds a message after a gap, asks for the gap, and asks again when no answer comes', async () => {
    behaviour = answering;
    const { count, events } = make({ gapTimeoutMs: 100 });
    await until(() => count('open') === 1, 'open');
    const socket = connections[0]!.socket;
    socket.send(JSON.stringify({ type: 'message', room: 'r', seq: 10, id: 'a' }));
    socket.send(JSON.stringify({ type: 'message', room: 'r', seq: 12, id: 'c' }));
    await until(() => frames.filter((f) => f.frame.action === 'history').length >= 2, 'a second history request');
    expect(frames.filter((f) => f.frame.action === 'history')[0]!.frame).toEqual({ action: 'history', room: 'r', after: 10 });
    expect(events.filter((e) => e.type === 'message').map((e) => e.value.id)).toEqual(['a']);
    // The answer fills the gap: both come out, in order, once.
    socket.send(
      JSON.stringify({
        type: 'replay',
        room: 'r',
        head: 12,
        fetched: true,
        messages: [
          { type: 'message', room: 'r', seq: 11, id: 'b' },
          { type: 'message', room: 'r', seq: 12, id: 'c' },
        ],
      }),
    );
    await until(() => events.filter((e) => e.type === 'message').length === 3, 'the gap filled');
    expect(events.filter((e) => e.type === 'message').map((e) => e.value.id)).toEqual(['a', 'b', 'c']);
    expect(count('duplicate')).toBe(1);
  });

  it("refuses bad options with the option's name", () => {
    expect(() => new WsOutboxClient({ url: 'http://x' })).toThrow(/wss:/);
    expect(() => new WsOutboxClient({ url, WebSocket: WebSocket as never, maxQueue: -1 })).toThrow(/maxQueue/);
    expect(() => new WsOutboxClient({ url, WebSocket: WebSocket as never, sessions: 'yes' as never })).toThrow(/sessions/);
  });
});

// A server that acknowledges sends (sessions on: `acks: true`), as the library's routes do: each
// frame with a cid gets an ack, unless the test's `hold` says to keep quiet about it.
describe('ws-outbox/client with a server that acknowledges sends', () => {
  let hold: (frame: any) => boolean = () => false;
  const acking = (socket: WebSocket, frame: any) => {
    if (frame.action === 'resume') {
      socket.send(
        JSON.stringify({
          type: 'session',
          session: 'tok-a',
          connectionId: `c${connections.length}`,
          resumed: frame.session === 'tok-a',
          missed: 0,
          reset: [],
          rooms: [],
          acks: true,
        }),
      );
      return;
    }
    if (typeof frame.$cid === 'string' && !hold(frame)) socket.send(JSON.stringify({ type: 'ack', cid: frame.$cid }));
  };
  afterEach(() => {
    hold = () => false;
  });
  const sent = (socket: WebSocket) => frames.filter((f) => f.socket === socket && f.frame.action !== 'resume').map((f) => f.frame);

  it('gives each object sent a cid, and settles it with `ack`', async () => {
    behaviour = acking;
    const { client, events, count } = make();
    await until(() => count('open') === 1, 'open');
    const cid = client.send({ action: 'send', text: 'hi' });
    expect(cid).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    await until(() => count('ack') === 1, 'the ack');
    expect(sent(connections[0]!.socket)).toEqual([{ action: 'send', text: 'hi', $cid: cid }]);
    expect(events.find((e) => e.type === 'ack')!.value).toEqual({ cid, duplicate: false });
    expect(client.unanswered).toBe(0);
    // An app's own `cid` field is its own: sent as it is, beside the client's `$cid`.
    const second = client.send({ text: 'mine', cid: 'general' });
    await until(() => count('ack') === 2, 'the second ack');
    expect(sent(connections[0]!.socket)[1]).toEqual({ text: 'mine', cid: 'general', $cid: second });
    expect(second).not.toBe(cid);
    // Not an object: sent as it is, with nothing to answer.
    expect(client.send('plain')).toBeUndefined();
  });

  it('refuses at send() what is over maxFrameBytes as written (UTF-8, with its $cid): nothing sent or kept, and the connection stays', async () => {
    behaviour = acking;
    const { client, count } = make();
    await until(() => count('open') === 1, 'open');
    const tooLarge = (send: () => unknown) => {
      try {
        send();
      } catch (error) {
        return error as SendTooLargeError;
      }
      throw new Error('send() did not throw');
    };
    // 11,000 euro signs: 11,000 UTF-16 units, 33,000 bytes (and more as JSON with its cid).
    const euros = tooLarge(() => client.send({ text: '€'.repeat(11_000) }));
    expect(euros).toBeInstanceOf(SendTooLargeError);
    expect(euros.limit).toBe(32 * 1024);
    expect(euros.bytes).toBeGreaterThan(33_000);
    expect(euros.message).toMatch(/32768-byte frame limit.*1009/);
    // A plain string has no cid: exactly 32,768 bytes as JSON goes, one more does not.
    expect(tooLarge(() => client.send('a'.repeat(32_767))).bytes).toBe(32_769);
    client.send('a'.repeat(32_766));
    // An object under the limit alone, over it with its `$cid`.
    expect(tooLarge(() => client.send({ t: 'a'.repeat(32_760) })).bytes).toBeGreaterThan(32_768);
    expect(client.unanswered + client.queued).toBe(0);
    const cid = client.send({ text: 'small' });
    await until(() => count('ack') === 1, 'the small send acknowledged');
    expect(sent(connections[0]!.socket).map((frame) => (typeof frame === 'string' ? frame.length : frame.$cid))).toEqual([32_766, cid]);
    expect(count('close')).toBe(0);
    expect(connections).toHaveLength(1);
    expect(() => new WsOutboxClient({ url, WebSocket: WebSocket as never, maxFrameBytes: -1 })).toThrow(/maxFrameBytes/);
  });

  it('sends what was unanswered when the socket dropped again after the resume, same cid, before what was queued', async () => {
    behaviour = acking;
    const { client, count } = make();
    await until(() => count('open') === 1, 'open');
    hold = (frame) => frame.n === 1;
    const first = client.send({ n: 1 })!;
    await until(() => sent(connections[0]!.socket).length === 1, 'the server got n: 1');
    expect(client.unanswered).toBe(1);
    hold = () => false;
    // The next resume waits for the test: the client stays offline (resuming) while it sends n: 2.
    let resume: (() => void) | undefined;
    behaviour = (socket, frame) => {
      if (frame.action === 'resume') resume = () => acking(socket, frame);
      else acking(socket, frame);
    };
    connections[0]!.socket.terminate();
    await until(() => resume !== undefined, 'the client reconnected and asked to resume');
    expect(client.state).toBe('resuming');
    const second = client.send({ n: 2 })!;
    expect(client.queued).toBe(1);
    // What the app sends when it hears `open` goes after both.
    let third: string | undefined;
    client.on('open', ({ resumed }) => {
      if (resumed) third = client.send({ n: 3 });
    });
    resume!();
    await until(() => count('ack') === 3, 'all three acked', 5000);
    expect(sent(connections[1]!.socket)).toEqual([
      { n: 1, $cid: first },
      { n: 2, $cid: second },
      { n: 3, $cid: third },
    ]);
    expect(count('refused')).toBe(0);
    expect(client.unanswered).toBe(0);
  });

  it('tells the app (`refused`, reason session) of what was unanswered when the session does not resume', async () => {
    let resumes = 0;
    behaviour = (socket, frame) => {
      // The second resume is refused: a fresh session.
      if (frame.action === 'resume' && ++resumes === 2) {
        socket.send(JSON.stringify({ type: 'session', session: 'tok-b', connectionId: 'c2', resumed: false, missed: 0, reset: [], rooms: [], acks: true }));
        return;
      }
      acking(socket, frame);
    };
    hold = () => true;
    const { client, events, count } = make();
    await until(() => count('open') === 1, 'open');
    const cid = client.send({ n: 1 })!;
    await until(() => sent(connections[0]!.socket).length === 1, 'the server got it');
    connections[0]!.socket.terminate();
    await until(() => count('refused') === 1, 'refused');
    expect(events.find((e) => e.type === 'refused')!.value).toMatchObject({ cid, reason: 'session' });
    expect(sent(connections[1]!.socket)).toEqual([]);
  });

  it('an error frame naming the cid is a refusal (and still a message); no answer at all is one after ackTimeoutMs', async () => {
    behaviour = (socket, frame) => {
      if (frame.text === 'bad') socket.send(JSON.stringify({ type: 'error', message: 'not a member', cid: frame.$cid }));
      else if (frame.text === 'racing') socket.send(JSON.stringify({ type: 'error', message: 'still being handled', cid: frame.$cid, unknown: true }));
      else if (frame.text !== 'lost') acking(socket, frame);
    };
    const { client, events, count } = make({ ackTimeoutMs: 300 });
    await until(() => count('open') === 1, 'open');
    const bad = client.send({ text: 'bad' });
    const racing = client.send({ text: 'racing' });
    const lost = client.send({ text: 'lost' });
    await until(() => count('refused') === 3, 'all three refused', 3000);
    const refusals = events.filter((e) => e.type === 'refused').map((e) => e.value);
    expect(refusals[0]).toEqual({ cid: bad, reason: 'error', message: 'not a member' });
    // A resend that found its first copy still running: not a refusal of the message itself.
    expect(refusals[1]).toEqual({ cid: racing, reason: 'unknown', message: 'still being handled' });
    expect(refusals[2]).toMatchObject({ cid: lost, reason: 'timeout' });
    expect(events.filter((e) => e.type === 'message').map((e) => e.value.cid)).toEqual([bad, racing]);
    expect(client.unanswered).toBe(0);
  });

  it('counts what is unanswered in `unsent`, beside the offline queue and not in its bound', async () => {
    behaviour = acking;
    hold = () => true;
    const { client, events, count } = make({ maxQueue: 2 });
    await until(() => count('open') === 1, 'open');
    client.send({ n: 1 });
    client.send({ n: 2 });
    await until(() => sent(connections[0]!.socket).length === 2, 'the server got both');
    behaviour = () => undefined; // no answer to the resume: the client stays offline
    connections[0]!.socket.terminate();
    await until(() => count('close') === 1, 'closed');
    expect(events.find((e) => e.type === 'close')!.value).toMatchObject({ unsent: 2, willReconnect: true });
    // The bound is the offline queue's own: two more fit, a third does not.
    client.send({ n: 3 });
    client.send({ n: 4 });
    expect(() => client.send({ n: 5 })).toThrow(/queue is full/);
    expect([client.queued, client.unanswered]).toEqual([2, 2]);
  });

  it('ordered: one send at a time, the next when the last is answered; the wait counts toward maxQueue', async () => {
    const pending: { socket: WebSocket; cid: string }[] = [];
    behaviour = (socket, frame) => {
      if (frame.action === 'resume') return acking(socket, frame);
      pending.push({ socket, cid: frame.$cid });
    };
    const { client, count } = make({ ordered: true, maxQueue: 2 });
    await until(() => count('open') === 1, 'open');
    const cids = [client.send({ n: 1 }), client.send({ n: 2 }), client.send({ n: 3 })];
    expect(() => client.send({ n: 4 })).toThrow(/queue is full/);
    await until(() => pending.length === 1, 'the first went out');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const socket = pending[0]!.socket;
    expect(sent(socket).map((f) => f.n)).toEqual([1]);
    for (let k = 0; k < 3; k++) {
      // The next leaves once the last is answered; it may still be on its way to the server.
      await until(() => pending.length > k, `send ${k + 1} reached the server`);
      expect(pending).toHaveLength(k + 1);
      const { cid } = pending[k]!;
      expect(cid).toBe(cids[k]);
      expect(pending[k]!.socket).toBe(socket);
      socket.send(JSON.stringify({ type: 'ack', cid }));
      await until(() => count('ack') === k + 1, `ack ${k + 1}`);
    }
    expect(sent(socket).map((f) => f.n)).toEqual([1, 2, 3]);
    expect(client.queued + client.unanswered).toBe(0);
  });
});
