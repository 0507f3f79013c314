import { backoffDefaults, reconnectDelay, type ReconnectBackoff } from './backoff.ts';
import { Emitter } from './emitter.ts';
import { Streams, roomKey, userKey, type Incoming, type StreamKey } from './streams.ts';
import { toToken, type Token, type TokenProvider } from './token.ts';

/** The part of the WebSocket API the client uses: the browser's, Node's global one (22+), or the `ws` package's. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: { data?: unknown; code?: number; reason?: string }) => void): void;
}
export type SocketFactory = new (url: string) => SocketLike;

export interface ClientOptions {
  /** The WebSocket API's URL (`wss://{api}.execute-api.{region}.amazonaws.com/{stage}`). */
  url: string;
  /** Called before every (re)connect, and ahead of expiry; its token goes in the query string. */
  token?: TokenProvider;
  /** The query parameter the authorizer reads. */
  tokenParam?: string;
  /** Default: globalThis.WebSocket (browsers, Node 22+). */
  WebSocket?: SocketFactory;
  backoff?: Partial<ReconnectBackoff>;
  /**
   * A `ping` after this long without a frame sent (API Gateway closes a connection after 10 minutes
   * without messages). Only the client's own frames count here: they are what reaches API Gateway
   * for sure, whatever it makes of server-to-client traffic, and the answer proves the socket alive.
   */
  keepaliveMs?: number;
  /** No frame this long after a ping: the socket is dead (a half-open TCP connection), reconnect. */
  pongTimeoutMs?: number;
  /** No session frame this long after the resume: try again on a new connection. */
  resumeTimeoutMs?: number;
  /** How long an out-of-order message waits for the one before it before the client fetches the gap. */
  gapTimeoutMs?: number;
  /**
   * Sends kept while offline (or resuming), and with `ordered` those waiting their turn; one more
   * throws SendQueueFullError. Sends already written and not yet answered are kept beside them.
   */
  maxQueue?: number;
  /**
   * A send the server acknowledges (sessions on: the session frame says `acks`) and that gets no
   * answer this long on an open connection is given up: a `refused` event (reason `timeout`). Past
   * API Gateway's 29 s integration timeout, so a slow route is not taken for a lost one.
   */
  ackTimeoutMs?: number;
  /**
   * One send at a time: the next leaves when the last is answered, so the server runs them in the
   * order sent (and a room shows them in that order). Without it, API Gateway runs each message's
   * invocation on its own, and two fast sends can take the room's sequences either way. Needs a
   * server that acknowledges sends; the wait counts toward `maxQueue`.
   */
  ordered?: boolean;
  /**
   * The largest frame sent, in UTF-8 bytes. API Gateway closes a connection whose client sends a
   * frame over 32 KB (1009), and browsers send each message as one frame: a larger send would take
   * the connection down, and (resent after every resume) each one after it. send() throws
   * SendTooLargeError instead.
   */
  maxFrameBytes?: number;
  /** Message ids (and sequences per room) remembered to drop duplicates. */
  dedupeSize?: number;
  /** Fetch a fresh token this long before the current one expires. */
  refreshBeforeMs?: number;
  /**
   * false: the server has no session route (`sessionHandler`): no resume, the client only
   * reconnects, dedupes, orders what carries a sequence, queues and keeps alive.
   */
  sessions?: boolean;
}

export const clientDefaults = {
  tokenParam: 'token',
  // Half the idle timeout: one ping per five quiet minutes, and a dead socket is found within about that.
  keepaliveMs: 5 * 60 * 1000,
  pongTimeoutMs: 10_000,
  resumeTimeoutMs: 10_000,
  gapTimeoutMs: 1500,
  maxQueue: 100,
  ackTimeoutMs: 35_000,
  ordered: false,
  maxFrameBytes: 32 * 1024,
  dedupeSize: 2000,
  refreshBeforeMs: 60_000,
  sessions: true,
};

export type ClientState = 'connecting' | 'resuming' | 'open' | 'reconnecting' | 'closed';

export interface ClientEvents {
  /** A connection is up and its session ready (`resumed` tells whether the old one came back). */
  open: { resumed: boolean; session: string; connectionId?: string };
  /** The session came back: `missed` messages are being delivered (replayed) right after this. */
  resumed: { missed: number; rooms: string[] };
  /** A room (or the user stream) was not recovered in full: what it missed before `after` is gone. */
  reset: { room?: string; user?: true; reason: string; after?: number };
  /** A message for the app: once, and in its room's order. */
  message: Incoming;
  /** The socket went; a reconnect follows unless `willReconnect` is false. */
  close: { code: number; reason: string; willReconnect: boolean; unsent: number; refused?: boolean };
  /** A copy of a message already delivered was dropped (at-least-once delivery, or a replay overlapping live delivery). */
  duplicate: Incoming;
  /** Waiting `delayMs` before reconnect attempt `attempt`. */
  reconnecting: { attempt: number; delayMs: number };
  /** The server ran a send (`cid`, what send() returned); `duplicate`: it had, and this was a resend. */
  ack: { cid: string; duplicate: boolean };
  /**
   * A send that will not be acknowledged: the server refused it (`error`, its error frame also
   * arrives as a message), no answer came in time (`timeout`), it went out as the connection
   * dropped and the session did not resume (`session`), or its resend found the first copy still
   * running (`unknown`). After `timeout`, `session` and `unknown` nobody here knows whether it ran.
   */
  refused: { cid: string; reason: 'error' | 'timeout' | 'session' | 'unknown'; message: string };
  /** Something the client cannot fix itself (a token provider that throws keeps retrying too). */
  error: { message: string; cause?: unknown };
}

/** A send while the queue is full: the app must wait for `open`, or drop it knowingly. */
export class SendQueueFullError extends Error {
  constructor(max: number) {
    super(`ws-outbox client: the offline send queue is full (${max} messages waiting for a connection); wait for the "open" event or raise maxQueue`);
    this.name = 'SendQueueFullError';
  }
}

/** A send whose frame API Gateway would refuse by closing the connection: split it, or send a link. */
export class SendTooLargeError extends Error {
  readonly bytes: number;
  readonly limit: number;
  constructor(bytes: number, limit: number) {
    super(
      `ws-outbox client: this message is ${bytes} bytes as sent, over the ${limit}-byte frame limit; API Gateway closes a connection that sends a larger frame (1009), so it was not sent. Send less (split it, or upload the content and send a link)`,
    );
    this.name = 'SendTooLargeError';
    this.bytes = bytes;
    this.limit = limit;
  }
}

const OPEN = 1;

/** A send on its way: its JSON, and with its cid for a server that acknowledges. */
interface OutgoingSend {
  cid?: string;
  text: string;
  withCid: string;
}

/**
 * The UTF-8 length of `text` when it is over `limit`, else undefined. A string of n UTF-16 units is
 * at most 3n bytes, so most sends are cleared without being encoded; only a long one is measured.
 */
const bytesOver = (text: string, limit: number): number | undefined => {
  if (text.length * 3 <= limit) return undefined;
  const bytes = new TextEncoder().encode(text).byteLength;
  return bytes > limit ? bytes : undefined;
};

/** Unique per client instance and across page loads: a random prefix and a counter. */
const cidPrefix = (): string => Math.random().toString(36).slice(2, 10) + Date.now().toString(36);

/**
 * A WebSocket client for ws-outbox apps: it reconnects (capped exponential backoff, full jitter),
 * resumes its session (rooms and missed messages come back), orders each room by its sequence,
 * drops duplicates, queues sends while offline, and keeps the socket under API Gateway's idle
 * timeout. `close()` ends the session.
 */
export class WsOutboxClient extends Emitter<ClientEvents> {
  #state: ClientState = 'connecting';
  #socket: SocketLike | undefined;
  #session: string | undefined;
  #token: Token | undefined;
  #attempt = 0;
  #queue: OutgoingSend[] = [];
  /** Sent and not answered yet (sends the server acknowledges), in the order sent. */
  readonly #unanswered = new Map<string, { send: OutgoingSend; timer?: ReturnType<typeof setTimeout> }>();
  /** The current session's server answers sends that carry a cid. */
  #acks = false;
  readonly #cidPrefix = cidPrefix();
  #cidCount = 0;
  readonly #ids = new Set<string>();
  readonly #streams: Streams;
  readonly #options: typeof clientDefaults & { backoff: ReconnectBackoff };
  readonly #url: string;
  readonly #provider: TokenProvider | undefined;
  readonly #Socket: SocketFactory;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #keepalive: ReturnType<typeof setTimeout> | undefined;
  #pong: ReturnType<typeof setTimeout> | undefined;
  #refresh: ReturnType<typeof setTimeout> | undefined;

  constructor(options: ClientOptions) {
    super();
    if (typeof options?.url !== 'string' || !/^wss?:\/\//.test(options.url)) throw new TypeError('WsOutboxClient needs { url: "wss://…" }');
    const Socket = options.WebSocket ?? (globalThis as { WebSocket?: SocketFactory }).WebSocket;
    if (Socket === undefined) throw new TypeError('no WebSocket here: pass { WebSocket } (the `ws` package in Node < 22)');
    this.#url = options.url;
    this.#provider = options.token;
    this.#Socket = Socket;
    const picked = Object.fromEntries(Object.entries(options).filter(([key, value]) => value !== undefined && key in clientDefaults));
    this.#options = { ...clientDefaults, ...picked, backoff: { ...backoffDefaults, ...options.backoff } };
    for (const key of [
      'keepaliveMs',
      'pongTimeoutMs',
      'resumeTimeoutMs',
      'gapTimeoutMs',
      'maxQueue',
      'ackTimeoutMs',
      'maxFrameBytes',
      'dedupeSize',
      'refreshBeforeMs',
    ] as const) {
      const value = this.#options[key];
      // Past 2^31 - 1 ms, Node's and browsers' timers fire at once.
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 2 ** 31 - 1)
        throw new TypeError(`WsOutboxClient ${key} must be a number from 0 to 2147483647; got ${String(value)}`);
    }
    for (const key of ['sessions', 'ordered'] as const)
      if (typeof this.#options[key] !== 'boolean') throw new TypeError(`WsOutboxClient ${key} must be true or false; got ${String(this.#options[key])}`);
    this.#streams = new Streams({
      gapTimeoutMs: this.#options.gapTimeoutMs,
      recentSize: this.#options.dedupeSize,
      deliver: (message) => this.emit('message', message),
      duplicate: (message) => this.emit('duplicate', message),
      fetch: (key, after) => this.#fetch(key, after),
    });
    queueMicrotask(() => void this.#connect());
  }

  get state(): ClientState {
    return this.#state;
  }

  /** The session's resume token (undefined before the first `open`). */
  get session(): string | undefined {
    return this.#session;
  }

  /** Messages waiting for a connection. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Messages sent and not yet answered by the server (`ack` or `refused` ends each). */
  get unanswered(): number {
    return this.#unanswered.size;
  }

  /** Messages held for a missing earlier one. */
  get holding(): number {
    return this.#streams.holding;
  }

  /**
   * Sends a message (JSON-encoded). While offline or resuming it waits in a bounded queue, sent in
   * order once the session is back; past `maxQueue` this throws SendQueueFullError, and over
   * `maxFrameBytes` SendTooLargeError (nothing is sent or kept).
   *
   * An object gets an id (its `cid`, sent as `"$cid"`), returned here. A server that acknowledges
   * sends answers each with `ack` or `refused`; one written as the connection went is sent again
   * after the resume, and the server runs it once.
   */
  send(message: unknown): string | undefined {
    if (this.#state === 'closed') throw new Error('ws-outbox client: closed (close() ends the session); make a new client');
    const text = JSON.stringify(message);
    if (text === undefined) throw new TypeError('ws-outbox client: send() needs a JSON value');
    const outgoing = this.#outgoing(message, text);
    // Checked as written with its cid (the longer form), whether or not the server acknowledges.
    const bytes = bytesOver(outgoing.withCid, this.#options.maxFrameBytes);
    if (bytes !== undefined) throw new SendTooLargeError(bytes, this.#options.maxFrameBytes);
    if (this.#queue.length === 0 && this.#mayWrite()) {
      this.#sendNow(outgoing);
      return outgoing.cid;
    }
    if (this.#queue.length >= this.#options.maxQueue) throw new SendQueueFullError(this.#options.maxQueue);
    this.#queue.push(outgoing);
    this.#pump();
    return outgoing.cid;
  }

  /** A send may go out now: the session is open, and (ordered) the last one was answered. */
  #mayWrite(): boolean {
    if (this.#state !== 'open' || this.#socket?.readyState !== OPEN) return false;
    return !(this.#options.ordered && this.#acks && this.#unanswered.size > 0);
  }

  /** Sends what waits, in order, as far as #mayWrite allows. */
  #pump(): void {
    while (this.#queue.length > 0 && this.#mayWrite()) this.#sendNow(this.#queue.shift()!);
  }

  #outgoing(message: unknown, text: string): OutgoingSend {
    const plain = typeof message === 'object' && message !== null && !Array.isArray(message) && text.startsWith('{');
    if (!plain) return { text, withCid: text };
    // `$cid`, a name of ours: an app's own fields (a `cid` of its own) go as they are. The server's
    // body parser takes it out again before the app's code sees the body.
    const cid = `${this.#cidPrefix}-${(this.#cidCount++).toString(36)}`;
    return { cid, text, withCid: text === '{}' ? `{"$cid":"${cid}"}` : `${text.slice(0, -1)},"$cid":"${cid}"}` };
  }

  /** Writes a send; one the server acknowledges waits for its answer, for ackTimeoutMs while connected. */
  #sendNow(send: OutgoingSend): void {
    if (!this.#acks || send.cid === undefined) {
      this.#write(send.text);
      return;
    }
    const cid = send.cid;
    this.#write(send.withCid);
    const timer = setTimeout(() => {
      if (this.#unanswered.get(cid)?.timer !== timer) return;
      this.#unanswered.delete(cid);
      this.emit('refused', {
        cid,
        reason: 'timeout',
        message: `no answer within ${this.#options.ackTimeoutMs} ms: whether the server handled it is not known`,
      });
      this.#pump();
    }, this.#options.ackTimeoutMs);
    this.#unanswered.set(cid, { send, timer });
  }

  /** The connection went: what is unanswered waits for the resume (no timeout while offline). */
  #holdUnanswered(): void {
    for (const entry of this.#unanswered.values()) {
      clearTimeout(entry.timer);
      entry.timer = undefined;
    }
  }

  #unsent(): number {
    return this.#queue.length + this.#unanswered.size;
  }

  /** Ends the session at once (close code 1000): no reconnect, and the server forgets its rooms. */
  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#stopTimers();
    this.#streams.stop();
    const unsent = this.#unsent();
    this.#queue = [];
    this.#holdUnanswered();
    this.#unanswered.clear();
    const socket = this.#socket;
    this.#socket = undefined;
    try {
      socket?.close(1000, 'client closed');
    } catch {
      // a socket still connecting may refuse a close code; it goes anyway
    }
    this.emit('close', { code: 1000, reason: 'client closed', willReconnect: false, unsent });
  }

  async #connect(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = this.#session === undefined && this.#attempt === 0 ? 'connecting' : 'reconnecting';
    let url = this.#url;
    if (this.#provider !== undefined) {
      try {
        const token = await this.#freshToken();
        url += `${url.includes('?') ? '&' : '?'}${encodeURIComponent(this.#options.tokenParam)}=${encodeURIComponent(token.token)}`;
      } catch (cause) {
        this.emit('error', { message: `the token provider failed: ${String((cause as Error)?.message ?? cause)}`, cause });
        this.#scheduleReconnect();
        return;
      }
    }
    if ((this.#state as ClientState) === 'closed') return;
    let socket: SocketLike;
    try {
      socket = new this.#Socket(url);
    } catch (cause) {
      this.emit('error', { message: `could not open the socket: ${String((cause as Error)?.message ?? cause)}`, cause });
      this.#scheduleReconnect();
      return;
    }
    this.#socket = socket;
    let opened = false;
    socket.addEventListener('open', () => {
      if (this.#socket !== socket) return;
      opened = true;
      this.#state = 'resuming';
      if (!this.#options.sessions) {
        this.#onSession({ type: 'session', session: '', resumed: false });
        return;
      }
      const { rooms, useq } = this.#streams.positions();
      this.#write(JSON.stringify({ action: 'resume', session: this.#session ?? null, rooms, ...(useq === undefined ? {} : { useq }) }));
      // An invocation that failed (or never ran) leaves the client without its session frame.
      this.#later(() => {
        if (this.#socket === socket && this.#state === 'resuming') this.#abandon(socket, 'no answer to resume');
      }, this.#options.resumeTimeoutMs);
    });
    socket.addEventListener('message', (event) => {
      if (this.#socket !== socket) return;
      this.#answered();
      this.#receive(event.data);
    });
    socket.addEventListener('close', (event) => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      this.#stopKeepalive();
      this.#holdUnanswered();
      // A refused upgrade (an expired token: 401/403) looks like a close before open: the next
      // attempt asks the provider again, and never falls back to the token refused.
      if (!opened) this.#token = undefined;
      // `refused`: it never opened (the upgrade was refused, or the network is down).
      this.emit('close', {
        code: event.code ?? 1006,
        reason: event.reason ?? '',
        willReconnect: this.#state !== 'closed',
        unsent: this.#unsent(),
        ...(opened ? {} : { refused: true }),
      });
      this.#scheduleReconnect();
    });
    socket.addEventListener('error', () => {
      // A close event follows; that is where the reconnect starts.
    });
  }

  /**
   * The provider is asked at every connect (it may cache; it knows its tokens). If it fails, a
   * token it gave earlier (at the last connect, or ahead of expiry) that is still valid is used.
   */
  async #freshToken(): Promise<Token> {
    try {
      const token = toToken(await this.#provider!());
      this.#token = token;
      this.#scheduleRefresh(token);
      return token;
    } catch (error) {
      const kept = this.#token;
      if (kept !== undefined && kept.expiresAt !== undefined && kept.expiresAt > Date.now()) {
        this.emit('error', {
          message: `the token provider failed (a token it gave earlier is used): ${String((error as Error)?.message ?? error)}`,
          cause: error,
        });
        return kept;
      }
      throw error;
    }
  }

  /** Asks the provider again ahead of expiry, so a reconnect never waits on (or fails with) a stale token. */
  #scheduleRefresh(token: Token): void {
    if (this.#refresh !== undefined) clearTimeout(this.#refresh);
    this.#refresh = undefined;
    if (token.expiresAt === undefined) return;
    const due = Math.max(0, token.expiresAt - this.#options.refreshBeforeMs - Date.now());
    this.#refresh = setTimeout(
      () => {
        this.#refresh = undefined;
        if (this.#state === 'closed') return;
        Promise.resolve()
          .then(() => this.#provider!())
          .then((result) => {
            const next = toToken(result);
            this.#token = next;
            this.#scheduleRefresh(next);
          })
          .catch((cause) => this.emit('error', { message: `the token provider failed: ${String((cause as Error)?.message ?? cause)}`, cause }));
      },
      Math.min(due, 2 ** 31 - 1),
    );
  }

  #scheduleReconnect(): void {
    if (this.#state === 'closed') return;
    this.#state = 'reconnecting';
    const delayMs = reconnectDelay(this.#attempt, this.#options.backoff);
    this.#attempt += 1;
    this.emit('reconnecting', { attempt: this.#attempt, delayMs });
    this.#later(() => void this.#connect(), delayMs);
  }

  #receive(data: unknown): void {
    const text = typeof data === 'string' ? data : data instanceof ArrayBuffer ? new TextDecoder().decode(data) : String(data);
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      this.emit('message', { data: text });
      return;
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      this.emit('message', { data: message });
      return;
    }
    const frame = message as Incoming;
    if (frame.type === 'session' && typeof frame.session === 'string') return this.#onSession(frame);
    if (frame.type === 'ack' && typeof frame.cid === 'string')
      return this.#answer(frame.cid, () => this.emit('ack', { cid: frame.cid as string, duplicate: frame.duplicate === true }));
    if (frame.type === 'error' && typeof frame.cid === 'string') {
      const cid = frame.cid;
      const reason = frame.unknown === true ? 'unknown' : 'error';
      this.#answer(cid, () => this.emit('refused', { cid, reason, message: String(frame.message) }));
      // It is still a message, as error frames always were (the app may show it).
      this.#ingest(frame);
      return;
    }
    if (this.#state === 'resuming' && frame.type === 'error') {
      // The resume itself failed (throttled, a server error): try again on a new connection.
      this.emit('error', { message: `resume failed: ${String(frame.message)}` });
      if (this.#socket !== undefined) this.#abandon(this.#socket, 'resume failed');
      return;
    }
    if (frame.type === 'replay' && Array.isArray(frame.messages)) return this.#onReplay(frame);
    if (frame.type === 'pong') return;
    this.#ingest(frame);
  }

  /** An answer to an unanswered send: it is settled once (a late copy of an answer is dropped). */
  #answer(cid: string, settle: () => void): void {
    const entry = this.#unanswered.get(cid);
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    this.#unanswered.delete(cid);
    settle();
    this.#pump();
  }

  #ingest(message: Incoming): void {
    const stream = Streams.keyOf(message);
    if (stream !== undefined) return this.#streams.ingest(stream[0], stream[1], message);
    // Unsequenced (a direct send): dedupe by id only.
    if (typeof message.id === 'string') {
      if (this.#ids.has(message.id)) return this.emit('duplicate', message);
      this.#ids.add(message.id);
      if (this.#ids.size > this.#options.dedupeSize) this.#ids.delete(this.#ids.values().next().value!);
    }
    this.emit('message', message);
  }

  #onSession(frame: Incoming): void {
    const resumed = frame.resumed === true;
    this.#session = frame.session as string;
    for (const reset of (frame.reset as ClientEvents['reset'][] | undefined) ?? []) {
      const key = reset.user ? userKey : reset.room === undefined ? undefined : roomKey(reset.room);
      if (key === undefined) continue;
      // A room not in the (new) session is left behind; a stream that goes on continues after `after`.
      if (key !== userKey && (!resumed || reset.after === undefined)) this.#streams.forget(key);
      else if (reset.after !== undefined) this.#streams.rebase(key, reset.after);
      this.emit('reset', reset);
    }
    // A new session has none of the old one's rooms (without sessions, the rooms are the app's to keep).
    if (!resumed && this.#options.sessions) for (const key of this.#streams.keys()) if (key !== userKey) this.#streams.forget(key);
    this.#attempt = 0;
    this.#state = 'open';
    this.#startKeepalive();
    // Sent as the last connection went and never answered: again, first and in order, on a resumed
    // session (the server runs each once), then what was queued, then the app hears `open` (what
    // it sends from there goes after). On a session not resumed, the app is told: never guessing.
    const unanswered = [...this.#unanswered.values()].map((entry) => entry.send);
    this.#unanswered.clear();
    const acked = this.#acks;
    this.#acks = frame.acks === true;
    const resend = resumed && acked && this.#acks;
    if (resend) for (const send of unanswered) this.#sendNow(send);
    const unknown = resend ? [] : unanswered;
    this.#pump();
    if (resumed) this.emit('resumed', { missed: Number(frame.missed ?? 0), rooms: (frame.rooms as string[] | undefined) ?? [] });
    this.emit('open', { resumed, session: this.#session, ...(typeof frame.connectionId === 'string' ? { connectionId: frame.connectionId } : {}) });
    for (const send of unknown)
      this.emit('refused', {
        cid: send.cid!,
        reason: 'session',
        message: 'sent as the connection dropped, and the session did not resume: whether the server handled it is not known',
      });
  }

  #onReplay(frame: Incoming): void {
    const key = frame.user === true ? userKey : typeof frame.room === 'string' ? roomKey(frame.room) : undefined;
    if (key === undefined) return;
    // A new session's user stream starts at its head.
    if (key === userKey && !this.#streams.has(userKey)) this.#streams.rebase(userKey, Number(frame.head ?? 0));
    for (const message of frame.messages as Incoming[]) if (message !== null && typeof message === 'object') this.#ingest(message);
    if (typeof frame.reset === 'string') {
      const after = typeof frame.after === 'number' ? frame.after : Number(frame.head ?? 0);
      this.emit('reset', { ...(key === userKey ? { user: true as const } : { room: frame.room as string }), reason: frame.reset, after });
      this.#streams.rebase(key, after);
    }
    if (frame.fetched === true) this.#streams.settle(key);
  }

  #fetch(key: StreamKey, after: number): void {
    if (this.#state !== 'open' || this.#socket?.readyState !== OPEN) {
      // Offline: the resume on reconnect replays the gap; look again after that.
      this.#later(() => this.#streams.rearm(key), this.#options.gapTimeoutMs);
      return;
    }
    const body = key === userKey ? { action: 'history', user: true, after } : { action: 'history', room: key.slice(5), after };
    this.#write(JSON.stringify(body));
    // An answer that never comes (a throttled or failed request) must not hold the room forever.
    this.#later(() => this.#streams.rearm(key), 2 * this.#options.gapTimeoutMs);
  }

  #write(text: string): void {
    this.#socket?.send(text);
    if (this.#state === 'open') this.#startKeepalive();
  }

  /** Any frame from the server proves the socket alive. */
  #answered(): void {
    if (this.#pong !== undefined) {
      clearTimeout(this.#pong);
      this.#pong = undefined;
    }
  }

  #startKeepalive(): void {
    if (this.#keepalive !== undefined) clearTimeout(this.#keepalive);
    if (this.#options.keepaliveMs === 0) return;
    this.#keepalive = setTimeout(() => {
      this.#keepalive = undefined;
      const socket = this.#socket;
      if (socket?.readyState !== OPEN) return;
      this.#write(JSON.stringify({ action: 'ping' }));
      if (this.#pong !== undefined) return; // the last ping's answer is still awaited
      this.#pong = setTimeout(() => {
        // No answer: a half-open socket (the network went without a FIN). Drop it and reconnect.
        this.#pong = undefined;
        if (this.#socket === socket) this.#abandon(socket, 'no answer to ping');
      }, this.#options.pongTimeoutMs);
    }, this.#options.keepaliveMs);
  }

  #abandon(socket: SocketLike, reason: string): void {
    this.#socket = undefined;
    this.#stopKeepalive();
    try {
      socket.close(4000, 'no pong');
    } catch {
      // already closing
    }
    this.#holdUnanswered();
    this.emit('close', { code: 1006, reason, willReconnect: true, unsent: this.#unsent() });
    this.#scheduleReconnect();
  }

  #stopKeepalive(): void {
    if (this.#keepalive !== undefined) clearTimeout(this.#keepalive);
    if (this.#pong !== undefined) clearTimeout(this.#pong);
    this.#keepalive = undefined;
    this.#pong = undefined;
  }

  #later(fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  #stopTimers(): void {
    this.#stopKeepalive();
    if (this.#refresh !== undefined) clearTimeout(this.#refresh);
    this.#refresh = undefined;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}
