/** What the framework and the example app need from a connection store. */
export interface Store {
  /** Registers a connection; it expires `ttlSeconds` later (at most API Gateway's 2 h). */
  connect(connectionId: string, details?: { name?: string }): Promise<void>;
  /** Removes a connection and all its room memberships. */
  disconnect(connectionId: string): Promise<void>;
  /** Adds a live connection to a room. Throws NotConnectedError for an unknown or expired id. */
  join(connectionId: string, room: string): Promise<void>;
  /** Removes a connection from a room. Resolves false when it was not a member. */
  leave(connectionId: string, room: string): Promise<boolean>;
  /** Live members of a room, read page by page. */
  members(room: string): AsyncIterable<string>;
  /** Every live connection, read page by page. */
  all(): AsyncIterable<string>;
  /** The rooms a connection is in. */
  roomsOf(connectionId: string): Promise<string[]>;
  /** A live connection's details, or undefined. */
  get(connectionId: string): Promise<ConnectionInfo | undefined>;
  /**
   * Removes many connections and their memberships in batches. `rooms` names memberships to
   * delete as well, for rows the connection item does not list (written by hand, half-failed joins).
   */
  remove(connectionIds: Iterable<string>, rooms?: ReadonlyMap<string, Iterable<string>>): Promise<RemoveResult>;
}

export interface ConnectionInfo {
  connectionId: string;
  name?: string;
  connectedAt: number;
  /** Epoch seconds. */
  ttl: number;
  rooms: string[];
}

export interface RemoveResult {
  /** Connections whose rows were removed. */
  connections: number;
  /** Items deleted (connection items and memberships). */
  items: number;
  /** Requests made, by operation, for the bench and for the curious. */
  requests: { batchGet: number; batchWrite: number };
}

/** A join for a connection the store does not know (never connected, or expired). */
export class NotConnectedError extends Error {
  readonly statusCode = 400;
  readonly expose = true;
  constructor(connectionId: string) {
    super(`connection ${connectionId} is not registered (connect first)`);
    this.name = 'NotConnectedError';
  }
}

/** API Gateway closes connections after 2 hours, so no row needs to live longer. */
export const maxConnectionSeconds = 2 * 60 * 60;
