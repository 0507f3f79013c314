import type { APIGatewayProxyWebsocketEventV2, Context } from 'aws-lambda';
import type { Store } from './store/store.ts';

/** A message is a string, bytes, or any JSON value. It is serialized once, however many get it. */
export type Message = string | Uint8Array | JsonValue;
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue | undefined };

/**
 * What a Lambda REQUEST authorizer put in its result's `context`, as every route of the connection
 * sees it: API Gateway turns each value into a string (`1` → "1", `true` → "true").
 */
export type AuthorizerContext = Record<string, string>;

/**
 * `event.requestContext.authorizer` on every route of a connection that an authorizer let in
 * ($connect, messages and $disconnect): the principalId it returned beside its stringified context.
 */
export type WsAuthorizer<TContext extends AuthorizerContext = AuthorizerContext> = TContext & {
  /** The authorizer's principalId: the verified user id. */
  principalId: string;
  /** Milliseconds API Gateway spent on the authorizer. */
  integrationLatency?: number;
};

/**
 * The WebSocket event as API Gateway sends it, with `body` already parsed from JSON.
 * `$connect` and `$disconnect` carry no body. `$connect` also carries headers and the query string.
 * Behind an authorizer, `requestContext.authorizer` holds what it verified, typed by `TAuthorizer`.
 */
export type WsEvent<TBody = unknown, TAuthorizer extends AuthorizerContext = AuthorizerContext> = Omit<
  APIGatewayProxyWebsocketEventV2,
  'body' | 'requestContext'
> & {
  body: TBody;
  /** The raw frame, as API Gateway delivered it (base64 when `isBase64Encoded`). */
  rawBody?: string;
  requestContext: APIGatewayProxyWebsocketEventV2['requestContext'] & {
    identity?: { sourceIp?: string; userAgent?: string };
    disconnectStatusCode?: number;
    disconnectReason?: string;
    /** Present when a $connect authorizer let the connection in; absent on an API without one. */
    authorizer?: WsAuthorizer<TAuthorizer>;
  };
  headers?: Record<string, string | undefined>;
  multiValueHeaders?: Record<string, string[] | undefined>;
  queryStringParameters?: Record<string, string | undefined> | null;
};

export interface Except {
  /** A connection id, or several, that must not receive this message (usually the sender). */
  except?: string | Iterable<string>;
}

/**
 * `context.outbox`: what a handler (or a middleware) can enqueue. Everything is delivered before
 * the response goes back; an enqueue after that throws OutboxClosedError.
 */
export interface WsOutbox {
  /** Sends a message to one connection. */
  send(connectionId: string, message: Message): void;
  /** Sends a message back to the connection that made this request (not on $connect). */
  reply(message: Message): void;
  /** Sends a message to each of the given connections, once each. */
  broadcast(connectionIds: Iterable<string>, message: Message, options?: Except): void;
  /** Sends a message to every member of a room; members are read from the store when the outbox flushes. */
  toRoom(room: string, message: Message, options?: Except): void;
  /** Sends a message to every live connection of a verified user (several tabs or devices), read from the store's user index when the outbox flushes. */
  toUser(userId: string, message: Message, options?: Except): void;
  /** Sends a message to every live connection. */
  toAll(message: Message, options?: Except): void;
  /** Closes a connection (DeleteConnection) after everything enqueued for it before has been sent. */
  disconnect(connectionId: string): void;
  /** How many instructions are waiting. */
  readonly size: number;
}

/** The Lambda context plus what ws-outbox adds to it. */
export type WsContext = Context & {
  /** One per invocation; flushed before the response goes back. */
  outbox: WsOutbox;
  /** The connection store (DynamoDB in Lambda, in memory under the testing helper). */
  store: Store;
};

export interface WsResult {
  statusCode: number;
  body?: string;
  headers?: Record<string, string>;
}

export interface FailedDelivery {
  connectionId: string;
  /** `deadline`, or the failure kind: `throttled`, `server`, `network`, `timeout`, `forbidden`, `too-large`, `client`. */
  reason: string;
  status?: number;
  /** The AWS error type or Node error code behind it. */
  error?: string;
}

/** A room, user or "all" entry (or one shard of it) whose recipients could not all be read, nor handed to the fan-out queue. */
export interface UnresolvedEntry {
  target: 'room' | 'user' | 'all';
  room?: string;
  /** The user of a toUser() entry. */
  userId?: string;
  /** The shard of the connection index, when only that shard's hand-over to the fan-out queue failed. */
  shard?: number;
  /**
   * `deadline`: the flush's budget ran out before (or while) it was read; `store`: the store
   * failed; `queue`: its fan-out message could not be sent.
   */
  reason: 'deadline' | 'store' | 'queue';
  /** The store's (or the queue's) error. */
  error?: string;
  /** Recipients already read from it (and queued) before it stopped; 0 when it was never read. */
  reached: number;
}

/** A gone connection whose row the prune left in the store (DynamoDB's TTL removes it later). */
export interface UnprunedConnection {
  connectionId: string;
  /**
   * `connecting`: its row is younger than the $connect grace, so the 410 may only mean that its
   * $connect has not returned yet; `deadline`: no budget left; `store`: the store failed.
   */
  reason: 'connecting' | 'deadline' | 'store';
}

/**
 * What happened to everything one invocation enqueued. sent + gone.length + failed.length === queued;
 * unresolved entries and discarded instructions are outside that count.
 */
export interface DeliveryReport {
  /** Messages (and disconnects) handed to the engine, one per recipient. */
  queued: number;
  sent: number;
  /** Connections that answered 410, one entry per message that could not reach them. */
  gone: string[];
  failed: FailedDelivery[];
  /** Room, user and "all" entries that could not be expanded (deadline, store error). */
  unresolved: UnresolvedEntry[];
  /** Gone (or disconnected) connections removed from the store. */
  pruned: number;
  /** Gone connections whose rows were left for $disconnect or TTL, with why. */
  unpruned: UnprunedConnection[];
  /** Instructions dropped unsent because the invocation failed (a throw, or a refused $connect). */
  discarded: number;
  /**
   * Messages put on the fan-out queue (one per shard of a spilled toAll, one per spilled toRoom):
   * their recipients are delivered by the fan-out workers, not counted here.
   */
  spilled: number;
  durationMs: number;
}
