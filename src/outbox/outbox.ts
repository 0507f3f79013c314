import { OutboxClosedError } from '../errors.ts';
import type { Except, Message, WsOutbox } from '../types.ts';
import { checkUserId } from '../store/users.ts';
import { serializeMessage } from './serialize.ts';

export type { Except };

/** One enqueued instruction. Recipients of rooms, users and "all" are read from the store at flush time. */
export type Entry =
  | { kind: 'ids'; payload: Uint8Array; ids: Set<string> }
  | { kind: 'room'; payload: Uint8Array; room: string; except: Set<string> }
  | { kind: 'user'; payload: Uint8Array; userId: string; except: Set<string> }
  | { kind: 'all'; payload: Uint8Array; except: Set<string> }
  | { kind: 'disconnect'; id: string };

export interface OutboxOptions {
  /** The calling connection, for reply(). */
  connectionId?: string;
  /** True on $connect: the connection does not exist until the handler returns, so posting to it fails (410). */
  connecting?: boolean;
  maxPayloadBytes?: number;
  /** False when there is no connection store: toRoom/toAll then fail where they are called. */
  storeAvailable?: boolean;
  /**
   * True once the invocation has failed (Middy sets `request.error` before its onError phase).
   * What is enqueued from then on (an onError middleware's own reply) survives discardFailed().
   */
  failing?: () => boolean;
}

const toSet = (except: Except['except']): Set<string> => (except === undefined ? new Set() : typeof except === 'string' ? new Set([except]) : new Set(except));

/**
 * The per-invocation queue behind `context.outbox`. Handlers only enqueue; the outbox middleware
 * drains it once the handler has returned, and closes it so that late enqueues fail loudly.
 * Handlers see it as a WsOutbox: close() and discardFailed() are the middleware's alone.
 */
export class Outbox implements WsOutbox {
  #entries: Entry[] = [];
  #closed = false;
  // Where the failed part of the invocation ends: entries before it are the failed handler's.
  #failedAt: number | undefined;
  // The same JSON value or string enqueued twice is serialized once and shares one payload, which
  // is how the flush recognises a repeated message to the same connection (see dedupe.ts).
  #serialized = new Map<unknown, Uint8Array>();
  readonly #options: OutboxOptions;

  constructor(options: OutboxOptions = {}) {
    this.#options = options;
  }

  /** Sends a message to one connection. */
  send(connectionId: string, message: Message): void {
    this.#assertOpen('send');
    this.#assertPostable(connectionId, 'send');
    this.#addIds([connectionId], this.#serialize(message));
  }

  /** Sends a message back to the connection that made this request. */
  reply(message: Message): void {
    this.#assertOpen('reply');
    const id = this.#options.connectionId;
    if (id === undefined) throw new Error('outbox.reply() needs the caller: this event has no requestContext.connectionId');
    this.#assertPostable(id, 'reply');
    this.#addIds([id], this.#serialize(message));
  }

  /** Sends a message to each of the given connections, once each. */
  broadcast(connectionIds: Iterable<string>, message: Message, options: Except = {}): void {
    this.#assertOpen('broadcast');
    const except = toSet(options.except);
    const ids: string[] = [];
    for (const id of connectionIds) {
      if (except.has(id)) continue;
      this.#assertPostable(id, 'broadcast');
      ids.push(id);
    }
    this.#addIds(ids, this.#serialize(message));
  }

  /** Sends a message to every member of a room; members are read from the store when the outbox flushes. */
  toRoom(room: string, message: Message, options: Except = {}): void {
    this.#assertOpen('toRoom');
    this.#assertStore('toRoom');
    if (typeof room !== 'string' || room.length === 0) throw new TypeError('outbox.toRoom() needs a room name');
    this.#push({ kind: 'room', room, payload: this.#serialize(message), except: this.#exceptWithCaller(options) });
  }

  /**
   * Sends a message to every live connection of a user (several tabs or devices): the connections
   * the store indexed under that user id when they connected, read when the outbox flushes.
   */
  toUser(userId: string, message: Message, options: Except = {}): void {
    this.#assertOpen('toUser');
    this.#assertStore('toUser');
    this.#push({ kind: 'user', userId: checkUserId(userId, 'outbox.toUser()'), payload: this.#serialize(message), except: this.#exceptWithCaller(options) });
  }

  /** Sends a message to every live connection. */
  toAll(message: Message, options: Except = {}): void {
    this.#assertOpen('toAll');
    this.#assertStore('toAll');
    this.#push({ kind: 'all', payload: this.#serialize(message), except: this.#exceptWithCaller(options) });
  }

  /** Closes a connection (DeleteConnection) after everything enqueued for it before has been sent. */
  disconnect(connectionId: string): void {
    this.#assertOpen('disconnect');
    this.#push({ kind: 'disconnect', id: connectionId });
  }

  /** How many instructions are waiting. */
  get size(): number {
    return this.#entries.length;
  }

  /** Hands the queue to the flush and refuses any later enqueue. Not for handlers. */
  close(): Entry[] {
    this.#closed = true;
    const entries = this.#entries;
    this.#entries = [];
    this.#serialized.clear();
    return entries;
  }

  /**
   * Drops what the failed part of the invocation enqueued (no half-done state escapes) and keeps
   * what came after the failure, such as an onError middleware's reply. Returns how many
   * instructions were dropped. Not for handlers.
   */
  discardFailed(): number {
    const cut = this.#failedAt ?? this.#entries.length;
    this.#entries = this.#entries.slice(cut);
    this.#failedAt = 0; // what is enqueued from now on is the error path's own
    return cut;
  }

  #serialize(message: Message): Uint8Array {
    // Bytes are copied: the caller may reuse its buffer before the flush (or on the next warm
    // invocation), and what goes out, and its signature, must be what was enqueued.
    if (message instanceof Uint8Array) return serializeMessage(message.slice(), this.#options.maxPayloadBytes);
    // JSON values are keyed by their text, so equal messages built separately still share one payload.
    const key = typeof message === 'string' ? message : JSON.stringify(message);
    const cached = this.#serialized.get(key);
    if (cached !== undefined) return cached;
    const bytes = serializeMessage(key === undefined ? message : key, this.#options.maxPayloadBytes);
    this.#serialized.set(key, bytes);
    return bytes;
  }

  #push(entry: Entry): void {
    this.#noteFailure();
    this.#entries.push(entry);
  }

  #noteFailure(): void {
    if (this.#failedAt === undefined && this.#options.failing?.()) this.#failedAt = this.#entries.length;
  }

  #addIds(ids: string[], payload: Uint8Array): void {
    // send() in a loop with one message becomes one entry; merging only into the last entry keeps
    // every connection's enqueue order (merging into an earlier one would move a message ahead).
    this.#noteFailure();
    const last = this.#entries.at(-1);
    if (last?.kind === 'ids' && last.payload === payload && this.#entries.length > (this.#failedAt ?? 0)) {
      for (const id of ids) last.ids.add(id);
      return;
    }
    this.#push({ kind: 'ids', payload, ids: new Set(ids) });
  }

  // On $connect the caller is not connected yet; room and all sends must skip it.
  #exceptWithCaller(options: Except): Set<string> {
    const except = toSet(options.except);
    if (this.#options.connecting && this.#options.connectionId !== undefined) except.add(this.#options.connectionId);
    return except;
  }

  #assertOpen(method: string): void {
    if (this.#closed) throw new OutboxClosedError(method);
  }

  #assertStore(method: string): void {
    if (this.#options.storeAvailable === false) {
      throw new Error(`outbox.${method}() needs a connection store to find the recipients: set TABLE_NAME, or pass { store } to wsHandler/outbox`);
    }
  }

  #assertPostable(id: string, method: string): void {
    if (typeof id !== 'string' || id.length === 0) throw new TypeError(`outbox.${method}() needs a connection id`);
    if (this.#options.connecting && id === this.#options.connectionId) {
      throw new Error(
        `outbox.${method}() to the connecting client during $connect: the connection does not exist until $connect ` +
          'returns, so API Gateway answers 410. Send the greeting from a later route instead.',
      );
    }
  }
}
