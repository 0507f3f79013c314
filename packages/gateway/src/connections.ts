// The live WebSocket connections, by connection id: what the management API delivers to, reads
// and closes. A connection is registered only once $connect has succeeded, and removed as soon as
// it closes, so posts to it answer 410 Gone from then on, as API Gateway does.
import type { WebSocket } from 'ws';
import type { ConnectionInfo } from './events.ts';

export interface LiveConnection extends ConnectionInfo {
  ws: WebSocket;
  lastActiveAt: number;
  /** Set when the gateway closes the socket (DELETE, limits, timeouts): reported to $disconnect. */
  closedBy?: { code: number; reason: string };
}

export class ConnectionRegistry {
  readonly #byId = new Map<string, LiveConnection>();

  add(connection: LiveConnection): void {
    this.#byId.set(connection.connectionId, connection);
  }

  remove(connectionId: string): void {
    this.#byId.delete(connectionId);
  }

  get(connectionId: string): LiveConnection | undefined {
    return this.#byId.get(connectionId);
  }

  get size(): number {
    return this.#byId.size;
  }

  [Symbol.iterator](): IterableIterator<LiveConnection> {
    return this.#byId.values();
  }

  /** Closes the socket from the server side and remembers why, for the $disconnect event. */
  close(connection: LiveConnection, code: number, reason: string): void {
    connection.closedBy ??= { code, reason };
    this.remove(connection.connectionId);
    connection.ws.close(code, reason);
  }
}
