// Generated from src/client by `npm run build:demo-client`: do not edit.

// src/client/backoff.ts
var backoffDefaults = { baseMs: 500, capMs: 3e4 };
var reconnectDelay = (attempt, { baseMs, capMs }, random = Math.random) => Math.floor(random() * Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30)));

// src/client/emitter.ts
var Emitter = class {
  #listeners = /* @__PURE__ */ new Map();
  /** Adds a listener; returns a function that removes it. */
  on(event, listener) {
    const set = this.#listeners.get(event) ?? /* @__PURE__ */ new Set();
    set.add(listener);
    this.#listeners.set(event, set);
    return () => this.off(event, listener);
  }
  off(event, listener) {
    this.#listeners.get(event)?.delete(listener);
  }
  emit(event, value) {
    for (const listener of [...this.#listeners.get(event) ?? []]) {
      try {
        listener(value);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
};

// src/client/streams.ts
var roomKey = (room) => `room:${room}`;
var userKey = "user";
var Streams = class {
  #streams = /* @__PURE__ */ new Map();
  #options;
  constructor(options) {
    this.#options = options;
  }
  /** Where each stream stands: what a resume asks to continue after. */
  positions() {
    const rooms = {};
    for (const [key, stream] of this.#streams) if (key.startsWith("room:")) rooms[key.slice(5)] = stream.last;
    const user = this.#streams.get(userKey);
    return user === void 0 ? { rooms } : { rooms, useq: user.last };
  }
  /** The stream a message belongs to and its sequence, or undefined for an unsequenced one. */
  static keyOf(message) {
    if (typeof message.seq === "number" && typeof message.room === "string") return [roomKey(message.room), message.seq];
    if (typeof message.useq === "number") return [userKey, message.useq];
    return void 0;
  }
  /** A sequenced message, live or replayed. */
  ingest(key, seq, message) {
    let stream = this.#streams.get(key);
    if (stream === void 0) {
      stream = { last: seq - 1, held: /* @__PURE__ */ new Map(), recent: /* @__PURE__ */ new Set(), fetches: 0 };
      this.#streams.set(key, stream);
    }
    if (stream.recent.has(seq) || stream.held.has(seq)) {
      this.#options.duplicate?.(message);
      return;
    }
    if (seq <= stream.last) {
      this.#deliver(stream, seq, message);
      return;
    }
    if (seq === stream.last + 1) {
      stream.last = seq;
      this.#deliver(stream, seq, message);
      this.#drain(stream);
      return;
    }
    stream.held.set(seq, message);
    this.#armGap(key, stream);
  }
  /** Sets where a stream continues (a server-given position): held messages up to it go out first, in order. */
  rebase(key, after) {
    const stream = this.#streams.get(key) ?? { last: after, held: /* @__PURE__ */ new Map(), recent: /* @__PURE__ */ new Set(), fetches: 0 };
    this.#streams.set(key, stream);
    for (const seq of [...stream.held.keys()].sort((a, b) => a - b)) {
      if (seq > after) break;
      const message = stream.held.get(seq);
      stream.held.delete(seq);
      stream.last = Math.max(stream.last, seq);
      this.#deliver(stream, seq, message);
    }
    stream.last = Math.max(stream.last, after);
    this.#drain(stream);
  }
  /**
   * A fetch (history) came back and was ingested. What is still missing below a held message was
   * never sent (its invocation failed after taking the sequence), or is still being written by an
   * invocation that took it a moment ago: so the gap is fetched once more, and only then skipped
   * (the message, if it comes after all, is delivered late rather than lost).
   */
  settle(key, fetchesBeforeSkip = 2) {
    const stream = this.#streams.get(key);
    if (stream === void 0 || stream.held.size === 0) return;
    stream.fetches += 1;
    if (stream.fetches < fetchesBeforeSkip) {
      this.#armGap(key, stream);
      return;
    }
    this.rebase(key, Math.min(...stream.held.keys()) - 1);
  }
  /** The client is no longer in this stream (a new session without it). */
  forget(key) {
    const stream = this.#streams.get(key);
    if (stream?.gapTimer !== void 0) clearTimeout(stream.gapTimer);
    this.#streams.delete(key);
  }
  has(key) {
    return this.#streams.has(key);
  }
  keys() {
    return [...this.#streams.keys()];
  }
  /** Held messages, for the app's curiosity and the tests. */
  get holding() {
    let held = 0;
    for (const stream of this.#streams.values()) held += stream.held.size;
    return held;
  }
  /** Stops every gap timer (the client closed). */
  stop() {
    for (const stream of this.#streams.values()) if (stream.gapTimer !== void 0) clearTimeout(stream.gapTimer);
  }
  /** A gap timer fires again for the same stream only when the held messages still wait. */
  rearm(key) {
    const stream = this.#streams.get(key);
    if (stream !== void 0 && stream.held.size > 0) this.#armGap(key, stream);
  }
  #drain(stream) {
    let next = stream.held.get(stream.last + 1);
    while (next !== void 0) {
      stream.held.delete(stream.last + 1);
      stream.last += 1;
      this.#deliver(stream, stream.last, next);
      next = stream.held.get(stream.last + 1);
    }
    if (stream.held.size === 0) {
      stream.fetches = 0;
      if (stream.gapTimer !== void 0) clearTimeout(stream.gapTimer);
      stream.gapTimer = void 0;
    }
  }
  #armGap(key, stream) {
    if (stream.gapTimer !== void 0) return;
    stream.gapTimer = setTimeout(() => {
      stream.gapTimer = void 0;
      if (stream.held.size > 0) this.#options.fetch(key, stream.last);
    }, this.#options.gapTimeoutMs);
  }
  #deliver(stream, seq, message) {
    stream.recent.add(seq);
    if (stream.recent.size > this.#options.recentSize) stream.recent.delete(stream.recent.values().next().value);
    this.#options.deliver(message);
  }
};

// src/client/token.ts
var jwtExpiry = (token) => {
  const payload = token.split(".")[1];
  if (payload === void 0) return void 0;
  try {
    const json = JSON.parse(
      atob(
        payload.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(payload.length / 4) * 4, "=")
      )
    );
    return typeof json.exp === "number" ? json.exp * 1e3 : void 0;
  } catch {
    return void 0;
  }
};
var toToken = (result) => {
  const token = typeof result === "string" ? result : result?.token;
  if (typeof token !== "string" || token === "") throw new TypeError("the token provider must resolve with a non-empty string or { token, expiresAt? }");
  const expiresAt = typeof result === "object" && typeof result.expiresAt === "number" ? result.expiresAt : jwtExpiry(token);
  return expiresAt === void 0 ? { token } : { token, expiresAt };
};

// src/client/client.ts
var clientDefaults = {
  tokenParam: "token",
  // Half the idle timeout: one ping per five quiet minutes, and a dead socket is found within about that.
  keepaliveMs: 5 * 60 * 1e3,
  pongTimeoutMs: 1e4,
  resumeTimeoutMs: 1e4,
  gapTimeoutMs: 1500,
  maxQueue: 100,
  ackTimeoutMs: 35e3,
  ordered: false,
  maxFrameBytes: 32 * 1024,
  dedupeSize: 2e3,
  refreshBeforeMs: 6e4,
  sessions: true
};
var SendQueueFullError = class extends Error {
  constructor(max) {
    super(`ws-outbox client: the offline send queue is full (${max} messages waiting for a connection); wait for the "open" event or raise maxQueue`);
    this.name = "SendQueueFullError";
  }
};
var SendTooLargeError = class extends Error {
  bytes;
  limit;
  constructor(bytes, limit) {
    super(
      `ws-outbox client: this message is ${bytes} bytes as sent, over the ${limit}-byte frame limit; API Gateway closes a connection that sends a larger frame (1009), so it was not sent. Send less (split it, or upload the content and send a link)`
    );
    this.name = "SendTooLargeError";
    this.bytes = bytes;
    this.limit = limit;
  }
};
var OPEN = 1;
var bytesOver = (text, limit) => {
  if (text.length * 3 <= limit) return void 0;
  const bytes = new TextEncoder().encode(text).byteLength;
  return bytes > limit ? bytes : void 0;
};
var cidPrefix = () => Math.random().toString(36).slice(2, 10) + Date.now().toString(36);
var WsOutboxClient = class extends Emitter {
  #state = "connecting";
  #socket;
  #session;
  #token;
  #attempt = 0;
  #queue = [];
  /** Sent and not answered yet (sends the server acknowledges), in the order sent. */
  #unanswered = /* @__PURE__ */ new Map();
  /** The current session's server answers sends that carry a cid. */
  #acks = false;
  #cidPrefix = cidPrefix();
  #cidCount = 0;
  #ids = /* @__PURE__ */ new Set();
  #streams;
  #options;
  #url;
  #provider;
  #Socket;
  #timers = /* @__PURE__ */ new Set();
  #keepalive;
  #pong;
  #refresh;
  constructor(options) {
    super();
    if (typeof options?.url !== "string" || !/^wss?:\/\//.test(options.url)) throw new TypeError('WsOutboxClient needs { url: "wss://\u2026" }');
    const Socket = options.WebSocket ?? globalThis.WebSocket;
    if (Socket === void 0) throw new TypeError("no WebSocket here: pass { WebSocket } (the `ws` package in Node < 22)");
    this.#url = options.url;
    this.#provider = options.token;
    this.#Socket = Socket;
    const picked = Object.fromEntries(Object.entries(options).filter(([key, value]) => value !== void 0 && key in clientDefaults));
    this.#options = { ...clientDefaults, ...picked, backoff: { ...backoffDefaults, ...options.backoff } };
    for (const key of [
      "keepaliveMs",
      "pongTimeoutMs",
      "resumeTimeoutMs",
      "gapTimeoutMs",
      "maxQueue",
      "ackTimeoutMs",
      "maxFrameBytes",
      "dedupeSize",
      "refreshBeforeMs"
    ]) {
      const value = this.#options[key];
      if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 2 ** 31 - 1)
        throw new TypeError(`WsOutboxClient ${key} must be a number from 0 to 2147483647; got ${String(value)}`);
    }
    for (const key of ["sessions", "ordered"])
      if (typeof this.#options[key] !== "boolean") throw new TypeError(`WsOutboxClient ${key} must be true or false; got ${String(this.#options[key])}`);
    this.#streams = new Streams({
      gapTimeoutMs: this.#options.gapTimeoutMs,
      recentSize: this.#options.dedupeSize,
      deliver: (message) => this.emit("message", message),
      duplicate: (message) => this.emit("duplicate", message),
      fetch: (key, after) => this.#fetch(key, after)
    });
    queueMicrotask(() => void this.#connect());
  }
  get state() {
    return this.#state;
  }
  /** The session's resume token (undefined before the first `open`). */
  get session() {
    return this.#session;
  }
  /** Messages waiting for a connection. */
  get queued() {
    return this.#queue.length;
  }
  /** Messages sent and not yet answered by the server (`ack` or `refused` ends each). */
  get unanswered() {
    return this.#unanswered.size;
  }
  /** Messages held for a missing earlier one. */
  get holding() {
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
  send(message) {
    if (this.#state === "closed") throw new Error("ws-outbox client: closed (close() ends the session); make a new client");
    const text = JSON.stringify(message);
    if (text === void 0) throw new TypeError("ws-outbox client: send() needs a JSON value");
    const outgoing = this.#outgoing(message, text);
    const bytes = bytesOver(outgoing.withCid, this.#options.maxFrameBytes);
    if (bytes !== void 0) throw new SendTooLargeError(bytes, this.#options.maxFrameBytes);
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
  #mayWrite() {
    if (this.#state !== "open" || this.#socket?.readyState !== OPEN) return false;
    return !(this.#options.ordered && this.#acks && this.#unanswered.size > 0);
  }
  /** Sends what waits, in order, as far as #mayWrite allows. */
  #pump() {
    while (this.#queue.length > 0 && this.#mayWrite()) this.#sendNow(this.#queue.shift());
  }
  #outgoing(message, text) {
    const plain = typeof message === "object" && message !== null && !Array.isArray(message) && text.startsWith("{");
    if (!plain) return { text, withCid: text };
    const cid = `${this.#cidPrefix}-${(this.#cidCount++).toString(36)}`;
    return { cid, text, withCid: text === "{}" ? `{"$cid":"${cid}"}` : `${text.slice(0, -1)},"$cid":"${cid}"}` };
  }
  /** Writes a send; one the server acknowledges waits for its answer, for ackTimeoutMs while connected. */
  #sendNow(send) {
    if (!this.#acks || send.cid === void 0) {
      this.#write(send.text);
      return;
    }
    const cid = send.cid;
    this.#write(send.withCid);
    const timer = setTimeout(() => {
      if (this.#unanswered.get(cid)?.timer !== timer) return;
      this.#unanswered.delete(cid);
      this.emit("refused", {
        cid,
        reason: "timeout",
        message: `no answer within ${this.#options.ackTimeoutMs} ms: whether the server handled it is not known`
      });
      this.#pump();
    }, this.#options.ackTimeoutMs);
    this.#unanswered.set(cid, { send, timer });
  }
  /** The connection went: what is unanswered waits for the resume (no timeout while offline). */
  #holdUnanswered() {
    for (const entry of this.#unanswered.values()) {
      clearTimeout(entry.timer);
      entry.timer = void 0;
    }
  }
  #unsent() {
    return this.#queue.length + this.#unanswered.size;
  }
  /** Ends the session at once (close code 1000): no reconnect, and the server forgets its rooms. */
  close() {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#stopTimers();
    this.#streams.stop();
    const unsent = this.#unsent();
    this.#queue = [];
    this.#holdUnanswered();
    this.#unanswered.clear();
    const socket = this.#socket;
    this.#socket = void 0;
    try {
      socket?.close(1e3, "client closed");
    } catch {
    }
    this.emit("close", { code: 1e3, reason: "client closed", willReconnect: false, unsent });
  }
  async #connect() {
    if (this.#state === "closed") return;
    this.#state = this.#session === void 0 && this.#attempt === 0 ? "connecting" : "reconnecting";
    let url = this.#url;
    if (this.#provider !== void 0) {
      try {
        const token = await this.#freshToken();
        url += `${url.includes("?") ? "&" : "?"}${encodeURIComponent(this.#options.tokenParam)}=${encodeURIComponent(token.token)}`;
      } catch (cause) {
        this.emit("error", { message: `the token provider failed: ${String(cause?.message ?? cause)}`, cause });
        this.#scheduleReconnect();
        return;
      }
    }
    if (this.#state === "closed") return;
    let socket;
    try {
      socket = new this.#Socket(url);
    } catch (cause) {
      this.emit("error", { message: `could not open the socket: ${String(cause?.message ?? cause)}`, cause });
      this.#scheduleReconnect();
      return;
    }
    this.#socket = socket;
    let opened = false;
    socket.addEventListener("open", () => {
      if (this.#socket !== socket) return;
      opened = true;
      this.#state = "resuming";
      if (!this.#options.sessions) {
        this.#onSession({ type: "session", session: "", resumed: false });
        return;
      }
      const { rooms, useq } = this.#streams.positions();
      this.#write(JSON.stringify({ action: "resume", session: this.#session ?? null, rooms, ...useq === void 0 ? {} : { useq } }));
      this.#later(() => {
        if (this.#socket === socket && this.#state === "resuming") this.#abandon(socket, "no answer to resume");
      }, this.#options.resumeTimeoutMs);
    });
    socket.addEventListener("message", (event) => {
      if (this.#socket !== socket) return;
      this.#answered();
      this.#receive(event.data);
    });
    socket.addEventListener("close", (event) => {
      if (this.#socket !== socket) return;
      this.#socket = void 0;
      this.#stopKeepalive();
      this.#holdUnanswered();
      if (!opened) this.#token = void 0;
      this.emit("close", {
        code: event.code ?? 1006,
        reason: event.reason ?? "",
        willReconnect: this.#state !== "closed",
        unsent: this.#unsent(),
        ...opened ? {} : { refused: true }
      });
      this.#scheduleReconnect();
    });
    socket.addEventListener("error", () => {
    });
  }
  /**
   * The provider is asked at every connect (it may cache; it knows its tokens). If it fails, a
   * token it gave earlier (at the last connect, or ahead of expiry) that is still valid is used.
   */
  async #freshToken() {
    try {
      const token = toToken(await this.#provider());
      this.#token = token;
      this.#scheduleRefresh(token);
      return token;
    } catch (error) {
      const kept = this.#token;
      if (kept !== void 0 && kept.expiresAt !== void 0 && kept.expiresAt > Date.now()) {
        this.emit("error", {
          message: `the token provider failed (a token it gave earlier is used): ${String(error?.message ?? error)}`,
          cause: error
        });
        return kept;
      }
      throw error;
    }
  }
  /** Asks the provider again ahead of expiry, so a reconnect never waits on (or fails with) a stale token. */
  #scheduleRefresh(token) {
    if (this.#refresh !== void 0) clearTimeout(this.#refresh);
    this.#refresh = void 0;
    if (token.expiresAt === void 0) return;
    const due = Math.max(0, token.expiresAt - this.#options.refreshBeforeMs - Date.now());
    this.#refresh = setTimeout(
      () => {
        this.#refresh = void 0;
        if (this.#state === "closed") return;
        Promise.resolve().then(() => this.#provider()).then((result) => {
          const next = toToken(result);
          this.#token = next;
          this.#scheduleRefresh(next);
        }).catch((cause) => this.emit("error", { message: `the token provider failed: ${String(cause?.message ?? cause)}`, cause }));
      },
      Math.min(due, 2 ** 31 - 1)
    );
  }
  #scheduleReconnect() {
    if (this.#state === "closed") return;
    this.#state = "reconnecting";
    const delayMs = reconnectDelay(this.#attempt, this.#options.backoff);
    this.#attempt += 1;
    this.emit("reconnecting", { attempt: this.#attempt, delayMs });
    this.#later(() => void this.#connect(), delayMs);
  }
  #receive(data) {
    const text = typeof data === "string" ? data : data instanceof ArrayBuffer ? new TextDecoder().decode(data) : String(data);
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      this.emit("message", { data: text });
      return;
    }
    if (typeof message !== "object" || message === null || Array.isArray(message)) {
      this.emit("message", { data: message });
      return;
    }
    const frame = message;
    if (frame.type === "session" && typeof frame.session === "string") return this.#onSession(frame);
    if (frame.type === "ack" && typeof frame.cid === "string")
      return this.#answer(frame.cid, () => this.emit("ack", { cid: frame.cid, duplicate: frame.duplicate === true }));
    if (frame.type === "error" && typeof frame.cid === "string") {
      const cid = frame.cid;
      const reason = frame.unknown === true ? "unknown" : "error";
      this.#answer(cid, () => this.emit("refused", { cid, reason, message: String(frame.message) }));
      this.#ingest(frame);
      return;
    }
    if (this.#state === "resuming" && frame.type === "error") {
      this.emit("error", { message: `resume failed: ${String(frame.message)}` });
      if (this.#socket !== void 0) this.#abandon(this.#socket, "resume failed");
      return;
    }
    if (frame.type === "replay" && Array.isArray(frame.messages)) return this.#onReplay(frame);
    if (frame.type === "pong") return;
    this.#ingest(frame);
  }
  /** An answer to an unanswered send: it is settled once (a late copy of an answer is dropped). */
  #answer(cid, settle) {
    const entry = this.#unanswered.get(cid);
    if (entry === void 0) return;
    clearTimeout(entry.timer);
    this.#unanswered.delete(cid);
    settle();
    this.#pump();
  }
  #ingest(message) {
    const stream = Streams.keyOf(message);
    if (stream !== void 0) return this.#streams.ingest(stream[0], stream[1], message);
    if (typeof message.id === "string") {
      if (this.#ids.has(message.id)) return this.emit("duplicate", message);
      this.#ids.add(message.id);
      if (this.#ids.size > this.#options.dedupeSize) this.#ids.delete(this.#ids.values().next().value);
    }
    this.emit("message", message);
  }
  #onSession(frame) {
    const resumed = frame.resumed === true;
    this.#session = frame.session;
    for (const reset of frame.reset ?? []) {
      const key = reset.user ? userKey : reset.room === void 0 ? void 0 : roomKey(reset.room);
      if (key === void 0) continue;
      if (key !== userKey && (!resumed || reset.after === void 0)) this.#streams.forget(key);
      else if (reset.after !== void 0) this.#streams.rebase(key, reset.after);
      this.emit("reset", reset);
    }
    if (!resumed && this.#options.sessions) {
      for (const key of this.#streams.keys()) if (key !== userKey) this.#streams.forget(key);
    }
    this.#attempt = 0;
    this.#state = "open";
    this.#startKeepalive();
    const unanswered = [...this.#unanswered.values()].map((entry) => entry.send);
    this.#unanswered.clear();
    const acked = this.#acks;
    this.#acks = frame.acks === true;
    const resend = resumed && acked && this.#acks;
    if (resend) for (const send of unanswered) this.#sendNow(send);
    const unknown = resend ? [] : unanswered;
    this.#pump();
    if (resumed) this.emit("resumed", { missed: Number(frame.missed ?? 0), rooms: frame.rooms ?? [] });
    this.emit("open", { resumed, session: this.#session, ...typeof frame.connectionId === "string" ? { connectionId: frame.connectionId } : {} });
    for (const send of unknown)
      this.emit("refused", {
        cid: send.cid,
        reason: "session",
        message: "sent as the connection dropped, and the session did not resume: whether the server handled it is not known"
      });
  }
  #onReplay(frame) {
    const key = frame.user === true ? userKey : typeof frame.room === "string" ? roomKey(frame.room) : void 0;
    if (key === void 0) return;
    if (key === userKey && !this.#streams.has(userKey)) this.#streams.rebase(userKey, Number(frame.head ?? 0));
    for (const message of frame.messages) if (message !== null && typeof message === "object") this.#ingest(message);
    if (typeof frame.reset === "string") {
      const after = typeof frame.after === "number" ? frame.after : Number(frame.head ?? 0);
      this.emit("reset", { ...key === userKey ? { user: true } : { room: frame.room }, reason: frame.reset, after });
      this.#streams.rebase(key, after);
    }
    if (frame.fetched === true) this.#streams.settle(key);
  }
  #fetch(key, after) {
    if (this.#state !== "open" || this.#socket?.readyState !== OPEN) {
      this.#later(() => this.#streams.rearm(key), this.#options.gapTimeoutMs);
      return;
    }
    const body = key === userKey ? { action: "history", user: true, after } : { action: "history", room: key.slice(5), after };
    this.#write(JSON.stringify(body));
    this.#later(() => this.#streams.rearm(key), 2 * this.#options.gapTimeoutMs);
  }
  #write(text) {
    this.#socket?.send(text);
    if (this.#state === "open") this.#startKeepalive();
  }
  /** Any frame from the server proves the socket alive. */
  #answered() {
    if (this.#pong !== void 0) {
      clearTimeout(this.#pong);
      this.#pong = void 0;
    }
  }
  #startKeepalive() {
    if (this.#keepalive !== void 0) clearTimeout(this.#keepalive);
    if (this.#options.keepaliveMs === 0) return;
    this.#keepalive = setTimeout(() => {
      this.#keepalive = void 0;
      const socket = this.#socket;
      if (socket?.readyState !== OPEN) return;
      this.#write(JSON.stringify({ action: "ping" }));
      if (this.#pong !== void 0) return;
      this.#pong = setTimeout(() => {
        this.#pong = void 0;
        if (this.#socket === socket) this.#abandon(socket, "no answer to ping");
      }, this.#options.pongTimeoutMs);
    }, this.#options.keepaliveMs);
  }
  #abandon(socket, reason) {
    this.#socket = void 0;
    this.#stopKeepalive();
    try {
      socket.close(4e3, "no pong");
    } catch {
    }
    this.#holdUnanswered();
    this.emit("close", { code: 1006, reason, willReconnect: true, unsent: this.#unsent() });
    this.#scheduleReconnect();
  }
  #stopKeepalive() {
    if (this.#keepalive !== void 0) clearTimeout(this.#keepalive);
    if (this.#pong !== void 0) clearTimeout(this.#pong);
    this.#keepalive = void 0;
    this.#pong = void 0;
  }
  #later(fn, ms) {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }
  #stopTimers() {
    this.#stopKeepalive();
    if (this.#refresh !== void 0) clearTimeout(this.#refresh);
    this.#refresh = void 0;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
};
export {
  SendQueueFullError,
  SendTooLargeError,
  WsOutboxClient,
  backoffDefaults,
  clientDefaults,
  jwtExpiry,
  reconnectDelay
};
