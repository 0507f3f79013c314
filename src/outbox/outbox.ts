import { OutboxClosedError } from '../errors.ts';
import type { Message } from '../types.ts';
import { serializeMessage } from './serialize.ts';

export interface Except {
  /** A connection id, or several, that must not receive this message (usually the sender). */
  except?: string | Iterable<string>;
}

/** One enqueued instruction. Recipients of rooms and "all" are read from the store at flush time. */
export type Entry =
  | { kind: 'ids'; payload: Uint8Array; ids: Set<string> }
  | { kind: 'room'; payload: Uint8Array; room: string; except: Set<string> }
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
}

const toSet = (except: Except['except']): Set<string> =>
  except === undefined ? new Set() : typeof except === 'string' ? new Set([except]) : new Set(except);

/**
 * The per-invocation queue behind `context.outbox`. Handlers only enqueue; the outbox middleware
 * drains it once the handler has returned, and closes it so that late enqueues fail loudly.
 */
export class Outbox {
  #entries: Entry[] = [];
  // The 'ids' entry of each payload, so that send() in a loop stays O(1) per call.
  #idsEntries = new Map<Uint8Array, Extract<Entry, { kind: 'ids' }>>();
  #closed = false;
  // The same message object (or string) enqueued twice is serialized once and shares one entry,
  // which is also how duplicate recipients of the same message collapse to one send.
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
    this.#entries.push({ kind: 'room', room, payload: this.#serialize(message), except: this.#exceptWithCaller(options) });
  }

  /** Sends a message to every live connection. */
  toAll(message: Message, options: Except = {}): void {
    this.#assertOpen('toAll');
    this.#assertStore('toAll');
    this.#entries.push({ kind: 'all', payload: this.#serialize(message), except: this.#exceptWithCaller(options) });
  }

  /** Closes a connection (DeleteConnection) after everything enqueued for it before has been sent. */
  disconnect(connectionId: string): void {
    this.#assertOpen('disconnect');
    this.#entries.push({ kind: 'disconnect', id: connectionId });
  }

  /** How many instructions are waiting. */
  get size(): number {
    return this.#entries.length;
  }

  /** Hands the queue to the flush and refuses any later enqueue. */
  close(): Entry[] {
    this.#closed = true;
    const entries = this.#entries;
    this.discard();
    return entries;
  }

  /** Drops everything enqueued so far (the handler threw: no half-done state escapes). */
  discard(): number {
    const dropped = this.#entries.length;
    this.#entries = [];
    this.#idsEntries.clear();
    this.#serialized.clear();
    return dropped;
  }

  /** Reopens after discard, for the middleware's own error reply. Not for handlers. */
  reopen(): void {
    this.#closed = false;
  }

  #serialize(message: Message): Uint8Array {
    // JSON values are keyed by their text, so equal messages built separately still share one payload.
    const isJson = typeof message !== 'string' && !(message instanceof Uint8Array);
    const key = isJson ? JSON.stringify(message) : message;
    const cached = this.#serialized.get(key);
    if (cached !== undefined) return cached;
    const bytes = serializeMessage(isJson && key !== undefined ? (key as string) : message, this.#options.maxPayloadBytes);
    this.#serialized.set(key, bytes);
    return bytes;
  }

  #addIds(ids: string[], payload: Uint8Array): void {
    // Merge into the earlier entry for the same payload so a recipient named twice gets it once.
    const previous = this.#idsEntries.get(payload);
    if (previous !== undefined) {
      for (const id of ids) previous.ids.add(id);
      return;
    }
    const entry = { kind: 'ids' as const, payload, ids: new Set(ids) };
    this.#idsEntries.set(payload, entry);
    this.#entries.push(entry);
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
