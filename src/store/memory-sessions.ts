// Sessions and the room log in memory: the same contracts as SessionStore and RoomLog (TTL
// included, filtered on read), for MemoryStore under the testing helper and for unit tests.
import { nowSeconds } from './keys.ts';
import { defaultWindowSeconds, type LogEntry, type LogRead, type MessageLog } from './room-log.ts';
import { newResumeToken, sendClaimSeconds, sendKeyOf, sessionKeyOf, type SendClaim, type Session, type Sessions, type StoreCallOptions } from './sessions.ts';
import { maxConnectionSeconds } from './store.ts';

interface Clocked {
  windowSeconds?: number;
  now?: () => number;
}

export class MemorySessions implements Sessions {
  readonly windowSeconds: number;
  readonly sessions = new Map<string, Session>();
  /** Claimed client sends, by their key's pk. */
  readonly sends = new Map<string, { state: 'running' | 'done'; ttl: number }>();
  readonly #now: () => number;
  /** Called when a session moves to a connection (the store notes it on the connection). */
  readonly #named: (connectionId: string, key: string) => void;

  constructor(options: Clocked & { named: (connectionId: string, key: string) => void }) {
    this.windowSeconds = options.windowSeconds ?? defaultWindowSeconds;
    this.#now = options.now ?? Date.now;
    this.#named = options.named;
  }

  async create(userId: string, connectionId: string, useq: number): Promise<{ token: string; session: Session }> {
    const token = newResumeToken();
    const session: Session = { key: sessionKeyOf(token), userId, connectionId, rooms: {}, useq, ttl: this.#attachedTtl() };
    this.sessions.set(session.key, session);
    this.#named(connectionId, session.key);
    return { token, session: { ...session, rooms: {} } };
  }

  async get(token: string): Promise<Session | undefined> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 256) return undefined;
    const session = this.#live(sessionKeyOf(token));
    return session && { ...session, rooms: { ...session.rooms } };
  }

  async attach(key: string, connectionId: string): Promise<boolean> {
    const session = this.#live(key);
    if (session === undefined) return false;
    session.connectionId = connectionId;
    session.ttl = this.#attachedTtl();
    this.#named(connectionId, key);
    return true;
  }

  async detach(key: string, connectionId: string): Promise<void> {
    const session = this.sessions.get(key);
    if (session?.connectionId === connectionId) session.ttl = nowSeconds(this.#now()) + this.windowSeconds;
  }

  async end(key: string, connectionId: string): Promise<void> {
    if (this.sessions.get(key)?.connectionId === connectionId) this.sessions.delete(key);
  }

  async addRoom(key: string, room: string, headAtJoin: number): Promise<void> {
    const session = this.sessions.get(key);
    if (session !== undefined && !(room in session.rooms)) session.rooms[room] = headAtJoin;
  }

  async removeRoom(key: string, room: string): Promise<void> {
    const session = this.sessions.get(key);
    if (session !== undefined) delete session.rooms[room];
  }

  async claimSend(userId: string, cid: string, _options?: StoreCallOptions): Promise<SendClaim> {
    const { pk } = sendKeyOf(userId, cid);
    const now = nowSeconds(this.#now());
    const claim = this.sends.get(pk);
    if (claim !== undefined && claim.ttl > now) return claim.state;
    this.sends.set(pk, { state: 'running', ttl: now + sendClaimSeconds(this.windowSeconds) });
    return 'claimed';
  }

  async finishSend(userId: string, cid: string, ok: boolean, _options?: StoreCallOptions): Promise<void> {
    const { pk } = sendKeyOf(userId, cid);
    const claim = this.sends.get(pk);
    if (!ok) this.sends.delete(pk);
    else if (claim !== undefined) claim.state = 'done';
  }

  #live(key: string): Session | undefined {
    const session = this.sessions.get(key);
    return session !== undefined && session.ttl > nowSeconds(this.#now()) ? session : undefined;
  }

  #attachedTtl(): number {
    return nowSeconds(this.#now()) + maxConnectionSeconds + this.windowSeconds;
  }
}

export class MemoryRoomLog implements MessageLog {
  readonly windowSeconds: number;
  readonly streams = new Map<string, { head: number; base: number; entries: Map<number, { payload: Uint8Array; ttl: number }> }>();
  readonly #now: () => number;
  readonly #maxReplay: number;

  constructor(options: Clocked & { maxReplay?: number } = {}) {
    this.windowSeconds = options.windowSeconds ?? defaultWindowSeconds;
    this.#now = options.now ?? Date.now;
    this.#maxReplay = options.maxReplay ?? 2000;
  }

  async allocate(stream: string, count: number): Promise<number> {
    const s = this.#stream(stream);
    // The same clock base as RoomLog: a new stream starts far above any old sequence.
    if (s.head === 0) s.head = s.base = this.#now() * 1000;
    s.head += count;
    return s.head - count + 1;
  }

  async append(stream: string, entries: LogEntry[]): Promise<void> {
    const ttl = nowSeconds(this.#now()) + this.windowSeconds;
    for (const { seq, payload } of entries) this.#stream(stream).entries.set(seq, { payload, ttl });
  }

  async head(stream: string): Promise<number> {
    return this.streams.get(stream)?.head ?? 0;
  }

  async read(stream: string, after: number): Promise<LogRead> {
    const s = this.streams.get(stream);
    const head = s?.head ?? 0;
    const now = nowSeconds(this.#now());
    const live = [...(s?.entries ?? [])].filter(([seq, entry]) => seq > after && entry.ttl > now).sort(([a], [b]) => a - b);
    const entries = live.slice(0, this.#maxReplay).map(([seq, { payload }]) => ({ seq, payload }));
    return { entries, head, base: s?.base ?? 0, complete: live.length <= this.#maxReplay };
  }

  #stream(stream: string) {
    let s = this.streams.get(stream);
    if (s === undefined) this.streams.set(stream, (s = { head: 0, base: 0, entries: new Map() }));
    return s;
  }
}
