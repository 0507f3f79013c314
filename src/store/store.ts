import { WsOutboxError } from '../errors.ts';
/** What the framework and the example app need from a connection store. */
export interface Store {
  /** Registers a connection; it expires `ttlSeconds` later (at most API Gateway's 2 h). */
  connect(connectionId: string, details?: ConnectionDetails): Promise<void>;
  /** Removes a connection and all its room memberships. */
  disconnect(connectionId: string): Promise<void>;
  /** Adds a live connection to a room. Throws NotConnectedError for an unknown or expired id. */
  join(connectionId: string, room: string): Promise<void>;
  /** Removes a connection from a room. Resolves false when it was not a member. */
  leave(connectionId: string, room: string): Promise<boolean>;
  /** Live members of a room, read page by page. An aborted `signal` ends the read with its reason. */
  members(room: string, options?: ReadOptions): AsyncIterable<string>;
  /** Every live connection, read page by page. An aborted `signal` ends the read with its reason. */
  all(options?: ReadOptions): AsyncIterable<string>;
  /** The live connections of a user (connected with that `userId`), read page by page like a room. */
  connectionsOf(userId: string, options?: ReadOptions): AsyncIterable<string>;
  /** How many shards all() reads (`pagesOf({ kind: 'all', shard })`, shard 0 … shards-1). Needed to spill a toAll. */
  readonly shards?: number;
  /**
   * One shard of all(), or a room, page by page from `cursor` (where an earlier page said the next
   * one starts). Needed to spill toAll/toRoom to the fan-out queue, and by the fan-out worker.
   */
  pagesOf?(target: PageTarget, options?: PageOptions): AsyncIterable<Page>;
  /** The rooms a connection is in. */
  roomsOf(connectionId: string): Promise<string[]>;
  /** A live connection's details, or undefined. */
  get(connectionId: string): Promise<ConnectionInfo | undefined>;
  /**
   * Removes many connections and their memberships in batches. It does not throw for what it
   * could not remove: that is in the result's `left`.
   */
  remove(connectionIds: Iterable<string>, options?: RemoveOptions): Promise<RemoveResult>;
}

export interface ConnectionDetails {
  /** A display name, kept with the connection. */
  name?: string;
  /** The verified user (the authorizer's principalId): the connection joins that user's index, for toUser(). */
  userId?: string;
}

export interface ReadOptions {
  signal?: AbortSignal;
}

/** What pagesOf reads: one shard of the connection index, or a room. */
export type PageTarget = { kind: 'all'; shard: number } | { kind: 'room'; room: string };

export interface PageOptions extends ReadOptions {
  /** Start after this position (a page's `cursor`); from the start when absent. */
  cursor?: string;
}

export interface Page {
  /** Live connection ids, in the store's order. */
  ids: string[];
  /** Where the next page starts (opaque); absent after the last page. */
  cursor?: string;
}

export interface RemoveOptions {
  /** Memberships to delete as well, for rows the connection item does not list (written by hand, half-failed joins). */
  rooms?: ReadonlyMap<string, Iterable<string>>;
  /** User-index rows to delete as well (connection id → user ids it was reached through), for rows the connection item does not name. */
  users?: ReadonlyMap<string, Iterable<string>>;
  /** Stops starting batches once aborted; what was not removed is in `left` with reason `deadline`. */
  signal?: AbortSignal;
  /**
   * Told of connections as their rows are deleted (batch by batch), so that a caller that stops
   * waiting (its deadline) can still report what was done.
   */
  onRemoved?: (connectionIds: string[]) => void;
  /**
   * Epoch ms: a connection whose row was written after this is kept (reason `connecting`), and so
   * is one whose row is not found (its $connect may not have written it yet). API Gateway answers
   * 410 for a connection until its $connect returns, so a 410 alone does not prove it is gone.
   */
  keepConnectedAfter?: number;
}

export interface ConnectionInfo {
  connectionId: string;
  name?: string;
  userId?: string;
  connectedAt: number;
  /** Epoch seconds. */
  ttl: number;
  rooms: string[];
  /** The key of the session it holds (sessions.ts), when sessions are on and it resumed or began one. */
  session?: string;
}

export interface RemoveResult {
  /** Connections whose rows were removed. */
  connections: number;
  /** Connections whose rows may still be there, with why (see RemoveOptions). */
  left: { connectionId: string; reason: 'connecting' | 'deadline' | 'store' }[];
  /** Items deleted (connection items, memberships and user-index rows). */
  items: number;
  /** The first store error met (what it could not remove is in `left`). */
  error?: unknown;
  /** Requests made, by operation, for the bench and for the curious. */
  requests: { batchGet: number; batchWrite: number };
}

/** A join for a connection the store does not know (never connected, or expired). */
export class NotConnectedError extends WsOutboxError {
  readonly statusCode = 400;
  readonly expose = true;
  constructor(connectionId: string) {
    super('NOT_CONNECTED', `connection ${connectionId} is not registered (connect first)`);
  }
}

/** API Gateway closes connections after 2 hours, so no row needs to live longer. */
export const maxConnectionSeconds = 2 * 60 * 60;
