import { nowSeconds } from './keys.ts';
import { MemoryRoomLog, MemorySessions } from './memory-sessions.ts';
import { roomStream } from './room-log.ts';
import { checkUserId } from './users.ts';
import { connectionShards, shardOf } from './shards.ts';
import {
  maxConnectionSeconds,
  NotConnectedError,
  type ConnectionDetails,
  type ConnectionInfo,
  type Page,
  type PageOptions,
  type PageTarget,
  type ReadOptions,
  type RemoveOptions,
  type RemoveResult,
  type Store,
} from './store.ts';

/**
 * The same contract as ConnectionStore, held in memory: for the testing helper and for app
 * developers' unit tests. Not for production (state lives in one process).
 */
export class MemoryStore implements Store {
  readonly connections = new Map<string, { name?: string; userId?: string; connectedAt: number; ttl: number; rooms: Set<string>; session?: string }>();
  readonly rooms = new Map<string, Set<string>>();
  /** The user → connections index (users.ts). */
  readonly users = new Map<string, Set<string>>();
  /** Shards of pagesOf({ kind: 'all' }), hashed from the id as ConnectionStore does. */
  readonly shards: number;
  /** Sessions and the room log, when on (`{ sessions: { windowSeconds } }`), as ConnectionStore has them. */
  readonly sessions?: MemorySessions;
  readonly log?: MemoryRoomLog;
  readonly #now: () => number;
  readonly #pageSize: number;

  constructor(options: { now?: () => number; shards?: number; pageSize?: number; sessions?: { windowSeconds?: number } | false } = {}) {
    this.#now = options.now ?? Date.now;
    this.shards = connectionShards(options.shards);
    this.#pageSize = options.pageSize ?? 1000;
    if (options.sessions) {
      const clock = { windowSeconds: options.sessions.windowSeconds, now: this.#now };
      this.sessions = new MemorySessions({
        ...clock,
        named: (id, key) => {
          const c = this.#live(id);
          if (c !== undefined) c.session = key;
        },
      });
      this.log = new MemoryRoomLog(clock);
    }
  }

  #live(id: string) {
    const c = this.connections.get(id);
    return c !== undefined && c.ttl > nowSeconds(this.#now()) ? c : undefined;
  }

  async connect(connectionId: string, details: ConnectionDetails = {}): Promise<void> {
    const now = this.#now();
    const userId = details.userId === undefined ? undefined : checkUserId(details.userId, 'connect()');
    this.connections.set(connectionId, { name: details.name, userId, connectedAt: now, ttl: nowSeconds(now) + maxConnectionSeconds, rooms: new Set() });
    if (userId !== undefined) this.#userIndex(userId).add(connectionId);
  }

  #userIndex(userId: string): Set<string> {
    let ids = this.users.get(userId);
    if (ids === undefined) this.users.set(userId, (ids = new Set()));
    return ids;
  }

  async disconnect(connectionId: string): Promise<void> {
    await this.remove([connectionId]);
  }

  async join(connectionId: string, room: string): Promise<void> {
    const c = this.#live(connectionId);
    if (c === undefined) throw new NotConnectedError(connectionId);
    c.rooms.add(room);
    let members = this.rooms.get(room);
    if (members === undefined) this.rooms.set(room, (members = new Set()));
    members.add(connectionId);
    if (c.session !== undefined && this.sessions && this.log) await this.sessions.addRoom(c.session, room, await this.log.head(roomStream(room)));
  }

  async leave(connectionId: string, room: string): Promise<boolean> {
    const session = this.connections.get(connectionId)?.session;
    if (session !== undefined) await this.sessions?.removeRoom(session, room);
    return this.#leave(connectionId, room);
  }

  /** A membership goes; the session keeps the room (a removal is not a leave). */
  #leave(connectionId: string, room: string): boolean {
    this.connections.get(connectionId)?.rooms.delete(room);
    const members = this.rooms.get(room);
    const was = members?.delete(connectionId) ?? false;
    if (members?.size === 0) this.rooms.delete(room);
    return was;
  }

  async *members(room: string, options: ReadOptions = {}): AsyncGenerator<string> {
    yield* this.#liveOf([...(this.rooms.get(room) ?? [])], options.signal);
  }

  async *all(options: ReadOptions = {}): AsyncGenerator<string> {
    yield* this.#liveOf([...this.connections.keys()], options.signal);
  }

  connectionsOf(userId: string, options: ReadOptions = {}): AsyncIterable<string> {
    // Checked now, as ConnectionStore does, not at the first read.
    const ids = this.users.get(checkUserId(userId, 'connectionsOf()'));
    return this.#liveOf([...(ids ?? [])], options.signal);
  }

  /** Ids in sort-key order, as DynamoDB pages them; the cursor is the last id of a page. */
  async *pagesOf(target: PageTarget, options: PageOptions = {}): AsyncGenerator<Page> {
    const { cursor, signal } = options;
    let ids: string[];
    if (target?.kind === 'room') ids = [...(this.rooms.get(target.room) ?? [])];
    else if (target?.kind === 'all' && Number.isInteger(target.shard) && target.shard >= 0 && target.shard < this.shards) {
      ids = [...this.connections.keys()].filter((id) => shardOf(id, this.shards) === target.shard);
    } else throw new RangeError(`pagesOf: no such target ${JSON.stringify(target)} (this store has ${this.shards} shards)`);
    ids.sort();
    let at = cursor === undefined ? 0 : ids.findIndex((id) => id > cursor);
    if (at < 0) at = ids.length;
    do {
      signal?.throwIfAborted();
      const slice = ids.slice(at, at + this.#pageSize);
      at += this.#pageSize;
      const live = slice.filter((id) => this.#live(id) && (target.kind === 'all' || this.rooms.get(target.room)?.has(id)));
      yield at < ids.length ? { ids: live, cursor: slice.at(-1)! } : { ids: live };
    } while (at < ids.length);
  }

  async *#liveOf(ids: string[], signal: AbortSignal | undefined): AsyncGenerator<string> {
    for (const id of ids) {
      signal?.throwIfAborted();
      if (this.#live(id)) yield id;
    }
  }

  async roomsOf(connectionId: string): Promise<string[]> {
    return [...(this.#live(connectionId)?.rooms ?? [])].sort();
  }

  async get(connectionId: string): Promise<ConnectionInfo | undefined> {
    const c = this.#live(connectionId);
    return (
      c && {
        connectionId,
        name: c.name,
        userId: c.userId,
        connectedAt: c.connectedAt,
        ttl: c.ttl,
        rooms: [...c.rooms].sort(),
        ...(c.session === undefined ? {} : { session: c.session }),
      }
    );
  }

  async remove(connectionIds: Iterable<string>, options: RemoveOptions = {}): Promise<RemoveResult> {
    const { rooms, users, signal, keepConnectedAfter } = options;
    const result: RemoveResult = { connections: 0, items: 0, left: [], requests: { batchGet: 0, batchWrite: 0 } };
    for (const id of new Set(connectionIds)) {
      if (signal?.aborted) {
        result.left.push({ connectionId: id, reason: 'deadline' });
        continue;
      }
      const connection = this.connections.get(id);
      if (keepConnectedAfter !== undefined && connection !== undefined && connection.connectedAt > keepConnectedAfter) {
        result.left.push({ connectionId: id, reason: 'connecting' });
        continue;
      }
      const memberOf = new Set([...(connection?.rooms ?? []), ...(rooms?.get(id) ?? [])]);
      for (const room of memberOf) if (this.#leave(id, room)) result.items++;
      for (const userId of new Set([...(connection?.userId === undefined ? [] : [connection.userId]), ...(users?.get(id) ?? [])])) {
        const ids = this.users.get(userId);
        if (ids?.delete(id)) result.items++;
        if (ids?.size === 0) this.users.delete(userId);
      }
      if (this.connections.delete(id)) result.items++;
      result.connections++;
      options.onRemoved?.([id]);
    }
    return result;
  }
}
