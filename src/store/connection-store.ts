import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  createLiteDocumentClient,
  DeleteCommand,
  documentClientOf,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DocumentClient,
} from './dynamodb/document-client.ts';
import { checkNumber, withDefaults } from '../options.ts';
import { batchDefaults, batchGet, batchWrite, type BatchOptions, type WriteRequest } from './batch.ts';
import { connectionKey, connectionsPartition, membershipKey, nowSeconds, roomPartition } from './keys.ts';
import { readShards } from './read-shards.ts';
import { connectionShards } from './shards.ts';
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
import { checkUserId, userConnectionKey, userPartition } from './users.ts';
import { RoomLog, roomStream } from './room-log.ts';
import { SessionStore } from './sessions.ts';

export interface ConnectionStoreOptions {
  /** Defaults to the TABLE_NAME environment variable. */
  tableName?: string;
  /**
   * An SDK DynamoDBDocumentClient (createDocumentClient() in sdk-client.ts makes one) or a DocumentClient. Default:
   * the lean client (createLiteDocumentClient), cached per process, honouring AWS_ENDPOINT_URL_DYNAMODB.
   */
  client?: DynamoDBDocumentClient | DocumentClient;
  /** Lifetime of a row; capped at API Gateway's 2 h connection limit. */
  ttlSeconds?: number;
  /** Items per Query page (DynamoDB also stops each page at 1 MB). */
  pageSize?: number;
  /** Shards of the connection index (K); default CONNECTION_SHARDS, else 16. Every function on the table must agree. */
  shards?: number;
  /** Shards all() reads at once, each one page ahead. */
  readConcurrency?: number;
  now?: () => number;
  batch?: Partial<BatchOptions>;
  /**
   * Sessions that outlive connections, and the room log they resume from (README "Reconnects and
   * resume"): `{ windowSeconds }`, or false. Default: on when SESSION_WINDOW_SECONDS is set, with
   * that window. Every function on the table must agree.
   */
  sessions?: { windowSeconds?: number } | false;
}

/** The sessions option from the environment: SESSION_WINDOW_SECONDS, a whole number of seconds, turns them on. */
const sessionsFromEnv = (): { windowSeconds: number } | false => {
  const raw = process.env.SESSION_WINDOW_SECONDS;
  if (raw === undefined || raw === '') return false;
  return { windowSeconds: checkNumber('SESSION_WINDOW_SECONDS', Number(raw), { min: 1, integer: true }) };
};

const defaults = {
  ttlSeconds: maxConnectionSeconds,
  pageSize: 1000,
  // Measured in bench/README.md ("Shards"): 4 Queries in flight read 100,000 rows about as fast
  // as 16, and keep a toAll's burst of reads small.
  readConcurrency: 4,
  now: Date.now,
};

let sharedClient: DocumentClient | undefined;
/**
 * One client per process, reused across warm invocations: the lean one, which a cold function
 * loads and runs several times faster than the SDK's (bench/README.md, "Cold start").
 */
// An empty variable (as SAM templates declare them) means "not set", not "endpoint ''".
export const defaultDocumentClient = (): DocumentClient =>
  (sharedClient ??= createLiteDocumentClient({ endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB || undefined }));

/** The DynamoDB connection store: one table, keys in keys.ts. */
export class ConnectionStore implements Store {
  readonly tableName: string;
  readonly client: DocumentClient;
  /** K: the connection index is spread over `connections#0` … `connections#<K-1>`. */
  readonly shards: number;
  /** Sessions (resume tokens, their rooms), when on. */
  readonly sessions?: SessionStore;
  /** The room log the outbox stamps and writes room and user messages to, when sessions are on. */
  readonly log?: RoomLog;
  readonly #options: typeof defaults;
  readonly #batch: BatchOptions;

  constructor(options: ConnectionStoreOptions = {}) {
    const tableName = options.tableName ?? process.env.TABLE_NAME;
    if (!tableName) throw new Error('ConnectionStore needs a table: pass { tableName } or set TABLE_NAME');
    this.tableName = tableName;
    this.client = documentClientOf(options.client ?? defaultDocumentClient());
    this.shards = connectionShards(options.shards);
    this.#options = withDefaults(defaults, {
      ttlSeconds: options.ttlSeconds,
      pageSize: options.pageSize,
      readConcurrency: options.readConcurrency,
      now: options.now,
    });
    this.#options.ttlSeconds = Math.min(this.#options.ttlSeconds, maxConnectionSeconds);
    checkNumber('ConnectionStore pageSize', this.#options.pageSize, { min: 1, integer: true });
    checkNumber('ConnectionStore readConcurrency', this.#options.readConcurrency, { min: 1, integer: true });
    this.#batch = withDefaults(batchDefaults, options.batch ?? {});
    checkNumber('ConnectionStore batch.maxAttempts', this.#batch.maxAttempts, { min: 1, integer: true });
    checkNumber('ConnectionStore batch.baseDelayMs', this.#batch.baseDelayMs);
    checkNumber('ConnectionStore batch.maxDelayMs', this.#batch.maxDelayMs);
    checkNumber('ConnectionStore batch.parallel', this.#batch.parallel, { min: 1, integer: true });
    const sessions = options.sessions ?? sessionsFromEnv();
    if (sessions !== false) {
      const shared = { tableName, client: this.client, windowSeconds: sessions.windowSeconds, now: this.#options.now };
      this.sessions = new SessionStore({ ...shared, shards: this.shards });
      this.log = new RoomLog({ ...shared, batch: options.batch });
    }
  }

  async connect(connectionId: string, details: ConnectionDetails = {}): Promise<void> {
    const now = this.#options.now();
    const ttl = nowSeconds(now) + this.#options.ttlSeconds;
    const userId = details.userId === undefined ? undefined : checkUserId(details.userId, 'connect()');
    const put = (Item: Record<string, unknown>) => this.client.send(new PutCommand({ TableName: this.tableName, Item }));
    // Both rows at once ($connect's latency is the client's handshake). If the user row fails,
    // connect() throws and $connect refuses the connection; if only it lands, a toUser() that
    // reaches the never-connected id gets a 410 and the prune removes the row it came through.
    await Promise.all([
      put({ ...this.#key(connectionId), connectedAt: now, ttl, name: details.name, userId }),
      userId === undefined ? undefined : put({ ...userConnectionKey(userId, connectionId), ttl }),
    ]);
  }

  async disconnect(connectionId: string): Promise<void> {
    const { left, error } = await this.remove([connectionId]);
    if (left.length > 0) throw new Error(`could not remove connection ${connectionId}: ${String((error as Error)?.message ?? error)}`, { cause: error });
  }

  async join(connectionId: string, room: string): Promise<void> {
    // The connection item learns the room first, so that whatever fails afterwards, prune still
    // finds the membership through it: the reverse index is always a superset.
    let ttl: number;
    let session: string | undefined;
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.#key(connectionId),
          UpdateExpression: 'ADD rooms :room',
          ConditionExpression: 'attribute_exists(sk) AND #ttl > :now',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':room': new Set([room]), ':now': nowSeconds(this.#options.now()) },
          ReturnValues: 'ALL_NEW',
        }),
      );
      ttl = Number(out.Attributes?.ttl);
      session = out.Attributes?.session as string | undefined;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') throw new NotConnectedError(connectionId);
      throw error;
    }
    // The membership expires with its connection.
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: { ...membershipKey(room, connectionId), ttl } }));
    // The session keeps the room for a resume, with where the room's log stood once this
    // connection could be reached through it (the membership is written): its replay starts there.
    if (session !== undefined && this.sessions && this.log) await this.sessions.addRoom(session, room, await this.log.head(roomStream(room)));
  }

  async leave(connectionId: string, room: string): Promise<boolean> {
    // Membership first, then the reverse index: the opposite order to join, for the same reason.
    const out = await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: membershipKey(room, connectionId), ReturnValues: 'ALL_OLD' }));
    const updated = await this.client
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.#key(connectionId),
          UpdateExpression: 'DELETE rooms :room',
          ConditionExpression: 'attribute_exists(sk)',
          ExpressionAttributeValues: { ':room': new Set([room]) },
          ReturnValues: 'ALL_NEW',
        }),
      )
      .catch((error: Error) => {
        if (error.name !== 'ConditionalCheckFailedException') throw error;
        return undefined;
      });
    // A leave ends the membership at once: a resume does not bring the room back.
    const session = updated?.Attributes?.session as string | undefined;
    if (session !== undefined && this.sessions) await this.sessions.removeRoom(session, room);
    return out.Attributes !== undefined;
  }

  members(room: string, options: ReadOptions = {}): AsyncIterable<string> {
    return this.#ids(roomPartition(room), options.signal);
  }

  /** Every live connection: the K shards read in parallel (readConcurrency at once), each one page ahead. */
  async *all(options: ReadOptions = {}): AsyncGenerator<string> {
    const shards = Array.from({ length: this.shards }, (_, shard) => shard);
    for await (const page of readShards((shard) => this.pagesOf({ kind: 'all', shard }, options), shards, this.#options.readConcurrency)) yield* page.ids;
  }

  connectionsOf(userId: string, options: ReadOptions = {}): AsyncIterable<string> {
    return this.#ids(userPartition(checkUserId(userId, 'connectionsOf()')), options.signal);
  }

  /** One shard of the connection index, or a room, page by page from `cursor` (the last evaluated sk). */
  async *pagesOf(target: PageTarget, options: PageOptions = {}): AsyncGenerator<Page> {
    const { cursor, signal } = options;
    const partition = this.#partitionOf(target);
    if (cursor !== undefined && (typeof cursor !== 'string' || cursor === ''))
      throw new TypeError(`pagesOf: a cursor is a non-empty string; got ${JSON.stringify(cursor)}`);
    let from: Record<string, unknown> | undefined = cursor === undefined ? undefined : { pk: partition, sk: cursor };
    do {
      const out = await this.#query(partition, from, signal);
      from = out.next;
      yield from === undefined ? { ids: out.ids } : { ids: out.ids, cursor: from.sk as string };
    } while (from !== undefined);
  }

  /** Pages of ids of one partition, as DynamoDB returns them (at most pageSize items or 1 MB each). */
  async *pages(partition: string, signal?: AbortSignal): AsyncGenerator<string[]> {
    let from: Record<string, unknown> | undefined;
    do {
      const out = await this.#query(partition, from, signal);
      yield out.ids;
      from = out.next;
    } while (from !== undefined);
  }

  async #query(
    partition: string,
    ExclusiveStartKey: Record<string, unknown> | undefined,
    signal?: AbortSignal,
  ): Promise<{ ids: string[]; next?: Record<string, unknown> }> {
    signal?.throwIfAborted();
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        // A room's members and a user's connections are read strongly consistent: a member who has
        // just left is not sent the room's next message, a joiner gets it. (Twice the read units of
        // an eventually consistent Query; the connection index, read for toAll, stays eventual.)
        ...(partition.startsWith(roomPartition('')) || partition.startsWith(userPartition('')) ? { ConsistentRead: true } : {}),
        // TTL deletion is lazy (up to days): expired rows are still returned, so filter them.
        FilterExpression: '#ttl > :now',
        ProjectionExpression: 'sk',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':pk': partition, ':now': nowSeconds(this.#options.now()) },
        Limit: this.#options.pageSize,
        ExclusiveStartKey,
      }),
      { abortSignal: signal },
    );
    return { ids: (out.Items ?? []).map((item) => item.sk as string), next: out.LastEvaluatedKey };
  }

  async *#ids(partition: string, signal?: AbortSignal): AsyncGenerator<string> {
    for await (const page of this.pages(partition, signal)) yield* page;
  }

  #partitionOf(target: PageTarget): string {
    if (target?.kind === 'room') {
      if (typeof target.room !== 'string' || target.room === '') throw new TypeError('pagesOf: a room target needs a room name');
      return roomPartition(target.room);
    }
    if (target?.kind !== 'all') throw new TypeError(`pagesOf: the target is { kind: 'all', shard } or { kind: 'room', room }; got ${JSON.stringify(target)}`);
    if (!Number.isInteger(target.shard) || target.shard < 0 || target.shard >= this.shards) {
      throw new RangeError(`pagesOf: shard ${JSON.stringify(target.shard)} is not one of this store's ${this.shards} shards (0-${this.shards - 1})`);
    }
    return connectionsPartition(target.shard);
  }

  #key(connectionId: string) {
    return connectionKey(connectionId, this.shards);
  }

  async roomsOf(connectionId: string): Promise<string[]> {
    return (await this.get(connectionId))?.rooms ?? [];
  }

  async get(connectionId: string): Promise<ConnectionInfo | undefined> {
    // Strongly consistent: a room check right after a join must see the join.
    const out = await this.client.send(new GetCommand({ TableName: this.tableName, Key: this.#key(connectionId), ConsistentRead: true }));
    const item = out.Item;
    if (item === undefined || Number(item.ttl) <= nowSeconds(this.#options.now())) return undefined;
    return {
      connectionId,
      name: item.name as string | undefined,
      userId: item.userId as string | undefined,
      connectedAt: Number(item.connectedAt),
      ttl: Number(item.ttl),
      rooms: [...((item.rooms as Set<string> | undefined) ?? [])].sort(),
      ...(typeof item.session === 'string' ? { session: item.session } : {}),
    };
  }

  async remove(connectionIds: Iterable<string>, options: RemoveOptions = {}): Promise<RemoveResult> {
    const { rooms, users, signal, keepConnectedAfter, onRemoved } = options;
    const ids = [...new Set(connectionIds)];
    const result: RemoveResult = { connections: 0, items: 0, left: [], requests: { batchGet: 0, batchWrite: 0 } };
    if (ids.length === 0) return result;
    // Each connection item lists its rooms, so 100 connections' memberships cost one BatchGetItem,
    // not one Query per id. It also says when the connection registered, for keepConnectedAfter.
    const read = await batchGet(
      this.client,
      this.tableName,
      ids.map((id) => this.#key(id)),
      { ProjectionExpression: 'sk, rooms, connectedAt, userId' },
      this.#batch,
      signal,
    );
    result.requests.batchGet = read.calls;
    result.error = read.error;
    const unread = new Set(read.left.map((key) => key.sk as string));
    const found = new Map(read.items.map((item) => [item.sk as string, item]));
    const deletes: WriteRequest[] = [];
    const removing: string[] = [];
    for (const id of ids) {
      if (unread.has(id)) {
        result.left.push({ connectionId: id, reason: signal?.aborted ? 'deadline' : 'store' });
        continue;
      }
      const item = found.get(id);
      if (keepConnectedAfter !== undefined && item !== undefined && Number(item.connectedAt) > keepConnectedAfter) {
        result.left.push({ connectionId: id, reason: 'connecting' });
        continue;
      }
      // A row that is not there is not deleted "just in case": under keepConnectedAfter its
      // $connect may be about to write it. Memberships named for it are still removed.
      if (item !== undefined || keepConnectedAfter === undefined) deletes.push({ DeleteRequest: { Key: this.#key(id) } });
      const memberOf = new Set([...((item?.rooms as Set<string> | undefined) ?? []), ...(rooms?.get(id) ?? [])]);
      for (const room of memberOf) deletes.push({ DeleteRequest: { Key: membershipKey(room, id) } });
      // Its row in the user index (user.ts): the user the item names, and any it was reached through.
      const userOf = new Set([...(typeof item?.userId === 'string' ? [item.userId] : []), ...(users?.get(id) ?? [])]);
      for (const userId of userOf) deletes.push({ DeleteRequest: { Key: userConnectionKey(userId, id) } });
      removing.push(id);
    }
    // A connection counts as removed when its own row's delete is done (its memberships follow).
    const connectionRow = (request: WriteRequest) => (request as { DeleteRequest: { Key: { pk: string; sk: string } } }).DeleteRequest.Key;
    const isConnectionRow = (request: WriteRequest) => String(connectionRow(request).pk).startsWith(connectionsPartition(0).replace(/\d+$/, ''));
    const written = await batchWrite(
      this.client,
      this.tableName,
      deletes,
      this.#batch,
      signal,
      onRemoved && ((done) => onRemoved(done.filter(isConnectionRow).map((request) => String(connectionRow(request).sk)))),
    );
    result.requests.batchWrite = written.calls;
    result.error ??= written.error;
    // Every key's sk is the connection id, so what is left maps back to connections.
    const notRemoved = new Set(written.left.map((request) => (request as { DeleteRequest: { Key: { sk: string } } }).DeleteRequest.Key.sk));
    for (const id of notRemoved) result.left.push({ connectionId: id, reason: signal?.aborted ? 'deadline' : 'store' });
    result.connections = removing.length - notRemoved.size;
    result.items = deletes.length - written.left.length;
    return result;
  }
}
