// Reconnects and resume, end to end: the example app on the local gateway (the shipped
// template.yaml, its authorizer and handlers, dynalite), real `ws` sockets driven by the client
// library (src/client), abrupt drops (no close frame) and outages the client has to ride out.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { SendQueueFullError, WsOutboxClient, type ClientOptions } from '../../src/client/index.ts';
import { RoomLog, roomStream } from '../../src/store/room-log.ts';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startGateway, type Gateway } from '../../packages/gateway/src/gateway.ts';

const quiet = process.env.GATEWAY_LOG === undefined;
const dirs: string[] = [];
const gateways: Gateway[] = [];
const clients: WsOutboxClient[] = [];
const sockets = new Set<WebSocket>();

const start = async (options: Parameters<typeof startGateway>[0] = {}): Promise<Gateway> => {
  const outdir = mkdtempSync(join(tmpdir(), 'gw-resume-'));
  dirs.push(outdir);
  const gateway = await startGateway({ template: 'template.yaml', port: 0, dynamodbPort: 0, quiet, outdir, ...options });
  gateways.push(gateway);
  return gateway;
};

afterAll(async () => {
  for (const client of clients) client.close();
  for (const socket of sockets) socket.terminate();
  for (const gateway of gateways) await gateway.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const eventually = async (predicate: () => boolean, what: string, timeoutMs = 20_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(25);
  }
};

const tokenFrom =
  (gateway: Gateway, name: string, ttl = 600) =>
  async () => {
    const url = new URL('/dev/token', gateway.wsUrl.replace(/^ws/, 'http'));
    url.search = new URLSearchParams({ name, ttl: String(ttl) }).toString();
    const res = await fetch(url);
    if (res.status !== 200) throw new Error(`dev token: ${res.status}`);
    return ((await res.json()) as { token: string }).token;
  };

/**
 * A client whose network the test controls: `drop()` kills the socket without a close frame, and
 * while `offline`, every connect fails (a refused TCP connection), as on a train in a tunnel.
 */
class Driven {
  readonly client: WsOutboxClient;
  readonly messages: Record<string, any>[] = [];
  readonly events: { type: string; value: any }[] = [];
  offline = false;
  socket: WebSocket | undefined;
  readonly name: string;

  constructor(gateway: Gateway, name: string, options: Partial<ClientOptions> = {}) {
    this.name = name;
    const self = this;
    class NetworkSocket extends WebSocket {
      constructor(url: string) {
        // Port 1 on loopback: nothing listens, the connect is refused at once.
        super(self.offline ? 'ws://127.0.0.1:1/' : url);
        sockets.add(this);
        self.socket = this;
        this.on('error', () => undefined);
      }
    }
    this.client = new WsOutboxClient({
      url: gateway.wsUrl,
      token: tokenFrom(gateway, name),
      WebSocket: NetworkSocket as never,
      backoff: { baseMs: 200, capMs: 1000 },
      ...options,
    });
    clients.push(this.client);
    this.client.on('message', (message) => this.messages.push(message));
    for (const type of ['open', 'resumed', 'reset', 'close', 'reconnecting', 'error', 'ack', 'refused'] as const)
      this.client.on(type, (value) => this.events.push({ type, value }));
  }

  /** The socket dies without a close frame; connects fail for `ms`. */
  async blip(ms: number): Promise<void> {
    this.offline = true;
    this.socket?.terminate();
    await sleep(ms);
    this.offline = false;
  }

  opened = (count = 1) => this.events.filter((e) => e.type === 'open').length >= count;
  count = (type: string) => this.events.filter((e) => e.type === type).length;
  inRoom = (room: string, type = 'message') => this.messages.filter((m) => m.room === room && m.type === type);

  async join(room: string): Promise<void> {
    await eventually(() => this.opened(), `${this.name} is open`);
    this.client.send({ action: 'join', room });
    await eventually(() => this.messages.some((m) => m.type === 'joined' && m.room === room && m.name === this.name), `${this.name} joined ${room}`);
  }
}

describe('the blip drive: 5 receivers dropping without close frames, 2 senders, 30 s', () => {
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await start();
  }, 90_000);

  test('every receiver gets every accepted message exactly once, and all see the room in one order', async () => {
    const room = 'blip';
    const receivers = Array.from({ length: 5 }, (_, i) => new Driven(gateway, `r${i}`));
    const senders = Array.from({ length: 2 }, (_, i) => new Driven(gateway, `s${i}`));
    for (const member of [...receivers, ...senders]) await member.join(room);

    let driving = true;
    const blips = receivers.map(async (receiver) => {
      await sleep(500 + Math.random() * 2000);
      while (driving) {
        await receiver.blip(500 + Math.random() * 1500);
        await sleep(3000 + Math.random() * 4000);
      }
    });
    let sent = 0;
    const sendCids = new Set<string>();
    const sending = senders.map(async (sender, s) => {
      // 8 messages a second between the two, under the per-connection rate limit (5/s).
      for (let i = 0; driving; i++) {
        sendCids.add(sender.client.send({ action: 'send', room, text: `${sender.name}-${i}` })!);
        sent++;
        await sleep(250 + s * 3);
      }
    });
    await sleep(30_000);
    driving = false;
    await Promise.all([...blips, ...sending]);

    // What the app accepted is what its room log holds: every message the send route took. Read
    // once the log has stopped growing (the last sends' invocations may still be running).
    const db = new DynamoDBClient({ endpoint: gateway.dynamodbEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const log = new RoomLog({ tableName: gateway.tableName!, client: DynamoDBDocumentClient.from(db) });
    const decoder = new TextDecoder();
    await eventually(() => senders.every((s) => s.client.queued === 0), 'the senders flushed their queues');
    let read = await log.read(roomStream(room), 0);
    for (let before = -1; read.head !== before; ) {
      before = read.head;
      await sleep(1500);
      read = await log.read(roomStream(room), 0);
    }
    db.destroy();
    expect(read.complete).toBe(true);
    const accepted = read.entries.map((e) => JSON.parse(decoder.decode(e.payload))).filter((m) => m.type === 'message');
    const types: Record<string, number> = {};
    for (const e of read.entries) types[JSON.parse(decoder.decode(e.payload)).type] = (types[JSON.parse(decoder.decode(e.payload)).type] ?? 0) + 1;
    const senderView = senders.map((d) => ({
      state: d.client.state,
      opens: d.count('open'),
      errors: d.events
        .filter((e) => e.type === 'error')
        .map((e) => e.value.message)
        .slice(0, 3),
      errorReplies: d.messages
        .filter((m) => m.type === 'error')
        .map((m) => m.message)
        .slice(0, 3),
    }));
    expect({ accepted: accepted.length > 150, head: read.head > 0, types, senderView }).toMatchObject({ accepted: true, head: true });
    expect(accepted.length).toBeLessThanOrEqual(sent);

    // Every send was answered: acknowledged exactly when the app accepted it, refused otherwise.
    await eventually(() => senders.every((d) => d.client.unanswered === 0), 'every send was answered');
    // (Their joins were acknowledged too: only the drive's sends are counted.)
    const answers = (type: string) => senders.flatMap((d) => d.events).filter((e) => e.type === type && sendCids.has(e.value.cid)).length;
    const [acks, refused] = [answers('ack'), answers('refused')];
    expect({ acks, answered: acks + refused }).toEqual({ acks: accepted.length, answered: sent });

    const acceptedIds = new Set(accepted.map((m) => m.id));
    await eventually(
      () => receivers.every((r) => new Set(r.inRoom(room).map((m) => m.id)).size >= acceptedIds.size),
      'every receiver has caught up',
      30_000,
    ).catch(() => undefined);
    const summary = receivers.map((r) => {
      const got = r.inRoom(room);
      const ids = got.map((m) => m.id);
      const seqs = got.map((m) => m.seq);
      return {
        name: r.name,
        // Exactly once: nothing missing, nothing extra, nothing twice.
        missing: [...acceptedIds].filter((id) => !ids.includes(id)).length,
        extra: ids.filter((id) => !acceptedIds.has(id)).length,
        twice: ids.length - new Set(ids).size,
        // One order: by sequence, the same for every member.
        outOfOrder: seqs.filter((seq, i) => i > 0 && seq < seqs[i - 1]).length,
        resets: r.events.filter((e) => e.type === 'reset').map((e) => e.value),
        holding: r.client.holding,
      };
    });
    expect(summary).toEqual(receivers.map((r) => ({ name: r.name, missing: 0, extra: 0, twice: 0, outOfOrder: 0, resets: [], holding: 0 })));
    // The drive did what it says: every receiver dropped and resumed, several times.
    const resumes = receivers.map((r) => r.count('resumed'));
    for (const count of resumes) expect(count).toBeGreaterThanOrEqual(2);
    expect(resumes.reduce((sum, count) => sum + count, 0)).toBeGreaterThanOrEqual(15);
  }, 120_000);

  test("a resume with another user's token is refused, and that user's session is untouched", async () => {
    const alice = new Driven(gateway, 'alice');
    await alice.join('secret');
    const token = alice.client.session!;
    const raw = new WebSocket(`${gateway.wsUrl}?token=${encodeURIComponent(await tokenFrom(gateway, 'mallory')())}`);
    sockets.add(raw);
    const frames: any[] = [];
    raw.on('message', (data) => frames.push(JSON.parse(String(data))));
    await new Promise((resolve) => raw.once('open', resolve));
    raw.send(JSON.stringify({ action: 'resume', session: token, rooms: { secret: 0 } }));
    await eventually(() => frames.some((f) => f.type === 'session'), 'mallory got an answer');
    expect(frames.find((f) => f.type === 'session')).toMatchObject({
      resumed: false,
      refused: 'the session belongs to another user',
      reset: [{ room: 'secret', reason: 'refused' }],
    });
    raw.send(JSON.stringify({ action: 'history', room: 'secret', after: 0 }));
    await eventually(() => frames.some((f) => f.type === 'error'), 'the history request was refused');
    expect(frames.find((f) => f.type === 'error')).toEqual({ type: 'error', message: 'not a member of room "secret"' });
    // Alice's session still resumes, with her room.
    await alice.blip(300);
    await eventually(() => alice.count('resumed') === 1, 'alice resumed');
    expect(alice.events.find((e) => e.type === 'resumed')!.value).toMatchObject({ rooms: ['secret'] });
    raw.terminate();
  }, 60_000);

  test('a sender whose socket drops as it sends: each send is acknowledged once and reaches the room once', async () => {
    const [pat, quinn] = [new Driven(gateway, 'pat'), new Driven(gateway, 'quinn')];
    for (const member of [pat, quinn]) await member.join('drops');
    const cids: string[] = [];
    for (let i = 0; i < 12; i++) {
      await eventually(() => pat.client.state === 'open', 'pat is open');
      cids.push(pat.client.send({ action: 'send', room: 'drops', text: `d${i}` })!);
      // Every other send, the socket dies right behind the frame, without a close frame: the frame
      // may or may not have left, and the ack cannot come back on it.
      if (i % 2 === 0) await pat.blip(300);
      else await sleep(250);
    }
    await eventually(() => pat.client.unanswered === 0 && pat.client.queued === 0, 'every send was answered', 30_000);
    expect(pat.count('refused')).toBe(0);
    // Each of the twelve acknowledged once (her join's ack is among them too).
    const acked = pat.events.filter((e) => e.type === 'ack' && cids.includes(e.value.cid)).map((e) => e.value.cid);
    expect(acked.sort()).toEqual([...cids].sort());
    const texts = Array.from({ length: 12 }, (_, i) => `d${i}`);
    await eventually(() => quinn.inRoom('drops').length >= 12, 'quinn got all twelve');
    await sleep(500); // a copy run twice would show up by now
    expect(
      quinn
        .inRoom('drops')
        .map((m) => m.text)
        .sort(),
    ).toEqual([...texts].sort());
    expect(pat.count('resumed')).toBeGreaterThanOrEqual(6);
  }, 90_000);

  test("ordered: a burst from one sender takes the room's sequences in the order sent", async () => {
    const [una, vic] = [new Driven(gateway, 'una', { ordered: true }), new Driven(gateway, 'vic')];
    for (const member of [una, vic]) await member.join('burst');
    // Under the per-connection burst (10): all eight pass the rate limit.
    const texts = Array.from({ length: 8 }, (_, i) => `b${i}`);
    for (const text of texts) una.client.send({ action: 'send', room: 'burst', text });
    await eventually(() => vic.inRoom('burst').length === 8, 'vic got all eight');
    const got = vic.inRoom('burst');
    expect(got.map((m) => m.text)).toEqual(texts);
    expect(got.map((m) => m.seq)).toEqual(got.map((m) => m.seq).sort((a, b) => a - b));
  }, 60_000);

  test('sends while offline wait in the queue and go out on resume; a full queue throws a clear error', async () => {
    const ivy = new Driven(gateway, 'ivy', { keepaliveMs: 1000, maxQueue: 3 });
    await ivy.join('queue');
    // On the default limits: the short idle timeout and 6 s cap below could close the new socket
    // just as the queued sends go out (client-to-server sends are not acknowledged).
    const offline = ivy.blip(700); // well inside the window
    await eventually(() => ivy.client.state !== 'open', 'ivy knows she is offline');
    for (const text of ['q1', 'q2', 'q3']) ivy.client.send({ action: 'send', room: 'queue', text });
    expect(() => ivy.client.send({ action: 'send', room: 'queue', text: 'q4' })).toThrow(SendQueueFullError);
    expect(() => ivy.client.send({ action: 'send', room: 'queue', text: 'q4' })).toThrow(/offline send queue is full \(3 messages/);
    await offline;
    await eventually(() => ivy.inRoom('queue').length === 3, 'the queued sends came back through the room').catch((error: Error) => {
      throw new Error(`${error.message}; ivy got ${JSON.stringify(ivy.inRoom('queue'))}, events ${JSON.stringify(ivy.events.map((e) => e.type))}`);
    });
    // All three, in the room's order (their sequences). Each send is its own invocation, so the
    // room's order need not be the order they were sent in (README "Reconnects and resume").
    const got = ivy.inRoom('queue');
    expect(got.map((m) => m.text).sort()).toEqual(['q1', 'q2', 'q3']);
    expect(got.map((m) => m.seq)).toEqual(got.map((m) => m.seq).sort((a, b) => a - b));
  }, 60_000);
});

describe('with short limits: the window, the idle timeout, the 2-hour cap, token expiry', () => {
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await start({ parameters: { SessionWindowSeconds: '2' }, idleTimeoutMs: 2500, maxDurationMs: 6000 });
  }, 90_000);

  test('a drop longer than the window: a reset naming the room, never silence', async () => {
    const [carol, dave] = [new Driven(gateway, 'carol', { keepaliveMs: 1000 }), new Driven(gateway, 'dave', { keepaliveMs: 1000 })];
    await carol.join('window');
    await dave.join('window');
    const offline = carol.blip(3500);
    await sleep(300);
    dave.client.send({ action: 'send', room: 'window', text: 'while carol is away too long' });
    await offline;
    await eventually(() => carol.count('reset') > 0, 'carol is told');
    expect(carol.events.find((e) => e.type === 'reset')!.value).toMatchObject({ room: 'window', reason: 'unknown-session' });
    expect(carol.count('resumed')).toBe(0);
    expect(carol.inRoom('window').some((m) => m.text === 'while carol is away too long')).toBe(false);
  }, 60_000);

  test('the idle timeout never closes a client that keeps alive; one that does not is closed and resumes; the 2-hour cap (6 s here) is ridden out', async () => {
    const [erin, fay, gil] = [
      new Driven(gateway, 'erin', { keepaliveMs: 1000 }),
      new Driven(gateway, 'fay', { keepaliveMs: 0 }),
      new Driven(gateway, 'gil', { keepaliveMs: 1000 }),
    ];
    for (const d of [erin, fay, gil]) await d.join('limits');
    const closes = (d: Driven, reason: RegExp) => d.events.filter((e) => e.type === 'close' && reason.test(e.value.reason)).length;
    let i = 0;
    const sending = (async () => {
      for (; i < 28; i++) {
        gil.client.send({ action: 'send', room: 'limits', text: `t${i}` });
        await sleep(i < 8 ? 250 : 500); // then quieter than the idle timeout allows without pings
      }
    })();
    await sending;
    await eventually(() => [erin, fay].every((d) => d.inRoom('limits').length === 28), 'erin and fay have every message', 20_000);
    // fay (no keepalive) was closed for idling; erin never was; both passed the duration cap.
    expect(closes(erin, /idle/)).toBe(0);
    expect(closes(erin, /maximum connection duration/)).toBeGreaterThanOrEqual(1);
    for (const d of [erin, fay]) {
      const texts = d.inRoom('limits').map((m) => m.text);
      expect(texts).toEqual(Array.from({ length: 28 }, (_, k) => `t${k}`));
      expect(d.count('resumed')).toBeGreaterThanOrEqual(1);
      expect(d.count('reset')).toBe(0);
    }
  }, 90_000);

  test('token expiry during a session: the provider is asked again before expiry, and the reconnect resumes', async () => {
    const calls: number[] = [];
    const mint = tokenFrom(gateway, 'hal', 3);
    const hal = new Driven(gateway, 'hal', {
      keepaliveMs: 1000,
      refreshBeforeMs: 1000,
      token: async () => {
        calls.push(Date.now());
        return mint();
      },
    });
    await hal.join('expiry');
    await sleep(3500); // the first token has expired; the connection lives on (API Gateway checks at $connect only)
    expect(calls.length).toBeGreaterThanOrEqual(2);
    await hal.blip(200);
    await eventually(() => hal.count('resumed') >= 1, 'hal resumed with a fresh token');
    expect(hal.events.filter((e) => e.type === 'error')).toEqual([]);
  }, 60_000);
});
