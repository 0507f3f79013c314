// Sessions: what outlives a connection. A verified user's client holds a resume token; the table
// keeps, under the token's SHA-256 (a leaked table does not leak live tokens):
//
//   session  pk = "session#<sha256(token)>"  sk = "session"   userId, connectionId, rooms (map room → the
//                                                              room's head when it joined), useq, ttl
//
// and the connection item names its session (`session`), so join/leave (connection-store.ts)
// keep the session's rooms, and $disconnect finds it. While a connection holds it, a session lives
// as long as a connection can (2 h) plus the window; once its connection goes it lives for the
// window only, and a reconnect within it resumes it (src/sessions/resume.ts).
import { createHash, randomBytes } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeleteCommand, documentClientOf, GetCommand, PutCommand, UpdateCommand, type DocumentClient } from './dynamodb/document-client.ts';
import { checkNumber } from '../options.ts';
import { connectionKey, nowSeconds } from './keys.ts';
import { defaultWindowSeconds, type MessageLog } from './room-log.ts';
import { maxConnectionSeconds } from './store.ts';

export const sessionKeyOf = (token: string) => `session#${createHash('sha256').update(token).digest('hex')}`;
const itemKey = (key: string) => ({ pk: key, sk: 'session' });

export interface Session {
  /** The item's key (the token's hash): what the connection item names. */
  key: string;
  userId: string;
  /** The connection that holds it now (or held it last). */
  connectionId: string;
  /** Its rooms, each with the room log's head when it joined (where its replay starts at the earliest). */
  rooms: Record<string, number>;
  /** The user stream's head when the session began. */
  useq: number;
  /** Epoch seconds. */
  ttl: number;
}

export interface SessionStoreOptions {
  tableName: string;
  /** The store's client (or an SDK DynamoDBDocumentClient). */
  client: DocumentClient | DynamoDBDocumentClient;
  /** The recovery window: how long a session outlives its connection. */
  windowSeconds?: number;
  /** Shards of the connection index (the store's), to find connection items. */
  shards: number;
  now?: () => number;
}

const isConditionFailure = (error: unknown) => (error as Error)?.name === 'ConditionalCheckFailedException';

/** What the session route and $disconnect need of a session store (SessionStore in DynamoDB, MemorySessions in memory). */
export interface Sessions {
  readonly windowSeconds: number;
  create(userId: string, connectionId: string, useq: number): Promise<{ token: string; session: Session }>;
  get(token: string): Promise<Session | undefined>;
  attach(key: string, connectionId: string): Promise<boolean>;
  detach(key: string, connectionId: string): Promise<void>;
  end(key: string, connectionId: string): Promise<void>;
  addRoom(key: string, room: string, headAtJoin: number): Promise<void>;
  removeRoom(key: string, room: string): Promise<void>;
  /**
   * Claims a client's send (its `cid`) for `userId` before the route runs, so that a resend after a
   * reconnect runs once: `claimed` (run it), `done` (it ran: acknowledge again), `running` (an
   * earlier invocation holds it and has not finished).
   */
  claimSend(userId: string, cid: string, options?: StoreCallOptions): Promise<SendClaim>;
  /** The claimed send ran (`ok`: kept as done for resends) or failed (released: a resend runs it). */
  finishSend(userId: string, cid: string, ok: boolean, options?: StoreCallOptions): Promise<void>;
}

/** An aborted `signal` ends the call with its reason (a store that hangs must not hold the invocation). */
export interface StoreCallOptions {
  signal?: AbortSignal;
}

/** Where a client's send stands: see Sessions.claimSend. */
export type SendClaim = 'claimed' | 'running' | 'done';

/**
 * The claim item's key. Hashed: a user id and a cid of any characters make one fixed-size key.
 *
 *   send  pk = "send#<sha256(userId, cid)>"  sk = "send"   state ("running" | "done"), ttl
 */
export const sendKeyOf = (userId: string, cid: string) => ({
  pk: `send#${createHash('sha256').update(userId).update('\u0000').update(cid).digest('hex')}`,
  sk: 'send',
});

/**
 * How long a claim is kept: a resend comes after a resume, at most the recovery window after its
 * connection went, and that connection may have lived API Gateway's 2 hours: the session's own bound.
 */
export const sendClaimSeconds = (windowSeconds: number) => maxConnectionSeconds + windowSeconds;

/** A store with sessions on: what resume, history and $disconnect work through. */
export interface SessionCapable {
  readonly sessions?: Sessions;
  readonly log?: MessageLog;
}

/** The resume token: 32 random bytes, unguessable and URL-safe. */
export const newResumeToken = (): string => randomBytes(32).toString('base64url');

export class SessionStore implements Sessions {
  readonly windowSeconds: number;
  readonly #tableName: string;
  readonly #client: DocumentClient;
  readonly #shards: number;
  readonly #now: () => number;

  constructor(options: SessionStoreOptions) {
    this.#tableName = options.tableName;
    this.#client = documentClientOf(options.client);
    this.#shards = options.shards;
    this.#now = options.now ?? Date.now;
    this.windowSeconds = checkNumber('sessions windowSeconds', options.windowSeconds ?? defaultWindowSeconds, { min: 1, integer: true });
  }

  /** A fresh session for a connection of `userId`; resolves with its resume token (shown to the client, never stored). */
  async create(userId: string, connectionId: string, useq: number): Promise<{ token: string; session: Session }> {
    const token = newResumeToken();
    const session: Session = { key: sessionKeyOf(token), userId, connectionId, rooms: {}, useq, ttl: this.#attachedTtl() };
    await this.#client.send(
      new PutCommand({ TableName: this.#tableName, Item: { ...itemKey(session.key), userId, connectionId, rooms: {}, useq, ttl: session.ttl } }),
    );
    await this.#name(connectionId, session.key);
    return { token, session };
  }

  /** The live session a token names, or undefined (unknown, ended, or past its window). */
  async get(token: string): Promise<Session | undefined> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 256) return undefined;
    const key = sessionKeyOf(token);
    const out = await this.#client.send(new GetCommand({ TableName: this.#tableName, Key: itemKey(key), ConsistentRead: true }));
    const item = out.Item;
    if (item === undefined || Number(item.ttl) <= nowSeconds(this.#now())) return undefined;
    const rooms = Object.fromEntries(Object.entries((item.rooms as Record<string, unknown> | undefined) ?? {}).map(([room, seq]) => [room, Number(seq)]));
    return { key, userId: String(item.userId), connectionId: String(item.connectionId), rooms, useq: Number(item.useq ?? 0), ttl: Number(item.ttl) };
  }

  /** Moves a session to a new connection (a resume). False when it ended or expired meanwhile. */
  async attach(key: string, connectionId: string): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: itemKey(key),
          UpdateExpression: 'SET connectionId = :c, #ttl = :ttl',
          ConditionExpression: 'attribute_exists(pk) AND #ttl > :now',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':c': connectionId, ':ttl': this.#attachedTtl(), ':now': nowSeconds(this.#now()) },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
    await this.#name(connectionId, key);
    return true;
  }

  /**
   * The session's connection went without an explicit close: it is kept for the window from now.
   * A connection the session has already moved away from (a resume came first) changes nothing.
   */
  async detach(key: string, connectionId: string): Promise<void> {
    await this.#unlessMoved(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: itemKey(key),
        UpdateExpression: 'SET #ttl = :ttl',
        ConditionExpression: 'connectionId = :c',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':c': connectionId, ':ttl': nowSeconds(this.#now()) + this.windowSeconds },
      }),
    );
  }

  /** An explicit close: the session ends at once (only if `connectionId` still holds it). */
  async end(key: string, connectionId: string): Promise<void> {
    await this.#unlessMoved(
      new DeleteCommand({
        TableName: this.#tableName,
        Key: itemKey(key),
        ConditionExpression: 'connectionId = :c',
        ExpressionAttributeValues: { ':c': connectionId },
      }),
    );
  }

  /** Records a room the session's connection joined, with the room log's head at that moment. */
  async addRoom(key: string, room: string, headAtJoin: number): Promise<void> {
    await this.#client
      .send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: itemKey(key),
          // A re-join keeps the first join's position.
          UpdateExpression: 'SET rooms.#room = if_not_exists(rooms.#room, :seq)',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#room': room },
          ExpressionAttributeValues: { ':seq': headAtJoin },
        }),
      )
      .catch((error) => {
        if (!isConditionFailure(error)) throw error;
      });
  }

  /** A leave ends the membership at once: a resume no longer brings the room back. */
  async removeRoom(key: string, room: string): Promise<void> {
    await this.#client
      .send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: itemKey(key),
          UpdateExpression: 'REMOVE rooms.#room',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#room': room },
        }),
      )
      .catch((error) => {
        if (!isConditionFailure(error)) throw error;
      });
  }

  async claimSend(userId: string, cid: string, options: StoreCallOptions = {}): Promise<SendClaim> {
    const key = sendKeyOf(userId, cid);
    const call = { abortSignal: options.signal };
    // Twice at most: a claim released (or expired) between the failed put and the read is taken on
    // the second round; one that is still there after that is reported as it stands.
    for (let round = 0; round < 2; round++) {
      const now = nowSeconds(this.#now());
      try {
        await this.#client.send(
          new PutCommand({
            TableName: this.#tableName,
            Item: { ...key, state: 'running', ttl: now + sendClaimSeconds(this.windowSeconds) },
            // TTL deletion is lazy: an expired claim counts as none.
            ConditionExpression: 'attribute_not_exists(pk) OR #ttl <= :now',
            ExpressionAttributeNames: { '#ttl': 'ttl' },
            ExpressionAttributeValues: { ':now': now },
          }),
          call,
        );
        return 'claimed';
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
      const out = await this.#client.send(new GetCommand({ TableName: this.#tableName, Key: key, ConsistentRead: true }), call);
      const item = out.Item;
      if (item !== undefined && Number(item.ttl) > nowSeconds(this.#now())) return item.state === 'done' ? 'done' : 'running';
    }
    return 'running';
  }

  async finishSend(userId: string, cid: string, ok: boolean, options: StoreCallOptions = {}): Promise<void> {
    const key = sendKeyOf(userId, cid);
    const call = { abortSignal: options.signal };
    if (!ok) {
      await this.#client.send(new DeleteCommand({ TableName: this.#tableName, Key: key }), call);
      return;
    }
    await this.#client
      .send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: key,
          UpdateExpression: 'SET #state = :done',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':done': 'done' },
        }),
        call,
      )
      .catch((error) => {
        if (!isConditionFailure(error)) throw error;
      });
  }

  #attachedTtl(): number {
    return nowSeconds(this.#now()) + maxConnectionSeconds + this.windowSeconds;
  }

  /** The connection item names its session, so join, leave and $disconnect find it. */
  async #name(connectionId: string, key: string): Promise<void> {
    await this.#client.send(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: connectionKey(connectionId, this.#shards),
        UpdateExpression: 'SET #session = :key',
        ConditionExpression: 'attribute_exists(sk)',
        ExpressionAttributeNames: { '#session': 'session' },
        ExpressionAttributeValues: { ':key': key },
      }),
    );
  }

  /** A condition on the holding connection that fails means the session moved on (or ended): nothing to do. */
  async #unlessMoved(command: UpdateCommand | DeleteCommand): Promise<void> {
    try {
      await this.#client.send(command);
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
}
