import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { checkNumber, withDefaults } from '../options.ts';
import { batchDefaults, batchGet, batchWrite, type BatchOptions } from './batch.ts';
import { connectionKey, connectionsPartition, membershipKey, nowSeconds, roomPartition } from './keys.ts';
import { maxConnectionSeconds, NotConnectedError, type ConnectionInfo, type RemoveResult, type Store } from './store.ts';

export interface ConnectionStoreOptions {
  /** Defaults to the TABLE_NAME environment variable. */
  tableName?: string;
  /** Defaults to a client cached per process, honouring AWS_ENDPOINT_URL_DYNAMODB. */
  client?: DynamoDBDocumentClient;
  /** Lifetime of a row; capped at API Gateway's 2 h connection limit. */
  ttlSeconds?: number;
  /** Items per Query page (DynamoDB also stops each page at 1 MB). */
  pageSize?: number;
  now?: () => number;
  batch?: Partial<BatchOptions>;
}

const defaults = {
  ttlSeconds: maxConnectionSeconds,
  pageSize: 1000,
  now: Date.now,
};

let sharedClient: DynamoDBDocumentClient | undefined;
/** One client per process, reused across warm invocations. */
const defaultDocumentClient = (): DynamoDBDocumentClient => {
  // An empty variable (as SAM templates declare them) means "not set", not "endpoint ''".
  const endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB || undefined;
  // The SDK sets no request timeout by default; a hung socket must not eat the invocation.
  sharedClient ??= DynamoDBDocumentClient.from(new DynamoDBClient({
    endpoint,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 1000, requestTimeout: 3000, throwOnRequestTimeout: true }),
  }), { marshallOptions: { removeUndefinedValues: true } });
  return sharedClient;
};

/** The DynamoDB connection store: one table, keys in keys.ts. */
export class ConnectionStore implements Store {
  readonly tableName: string;
  readonly client: DynamoDBDocumentClient;
  readonly #options: typeof defaults;
  readonly #batch: BatchOptions;

  constructor(options: ConnectionStoreOptions = {}) {
    const tableName = options.tableName ?? process.env.TABLE_NAME;
    if (!tableName) throw new Error('ConnectionStore needs a table: pass { tableName } or set TABLE_NAME');
    this.tableName = tableName;
    this.client = options.client ?? defaultDocumentClient();
    this.#options = withDefaults(defaults, { ttlSeconds: options.ttlSeconds, pageSize: options.pageSize, now: options.now });
    this.#options.ttlSeconds = Math.min(this.#options.ttlSeconds, maxConnectionSeconds);
    this.#batch = withDefaults(batchDefaults, options.batch ?? {});
    checkNumber('ConnectionStore batch.maxAttempts', this.#batch.maxAttempts, { min: 1, integer: true });
    checkNumber('ConnectionStore batch.baseDelayMs', this.#batch.baseDelayMs);
    checkNumber('ConnectionStore batch.maxDelayMs', this.#batch.maxDelayMs);
  }

  async connect(connectionId: string, details: { name?: string } = {}): Promise<void> {
    const now = this.#options.now();
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...connectionKey(connectionId), connectedAt: now, ttl: nowSeconds(now) + this.#options.ttlSeconds, name: details.name },
      }),
    );
  }

  async disconnect(connectionId: string): Promise<void> {
    await this.remove([connectionId]);
  }

  async join(connectionId: string, room: string): Promise<void> {
    // The connection item learns the room first, so that whatever fails afterwards, prune still
    // finds the membership through it: the reverse index is always a superset.
    let ttl: number;
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: connectionKey(connectionId),
          UpdateExpression: 'ADD rooms :room',
          ConditionExpression: 'attribute_exists(sk) AND #ttl > :now',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':room': new Set([room]), ':now': nowSeconds(this.#options.now()) },
          ReturnValues: 'ALL_NEW',
        }),
      );
      ttl = Number(out.Attributes?.ttl);
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') throw new NotConnectedError(connectionId);
      throw error;
    }
    // The membership expires with its connection.
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: { ...membershipKey(room, connectionId), ttl } }));
  }

  async leave(connectionId: string, room: string): Promise<boolean> {
    // Membership first, then the reverse index: the opposite order to join, for the same reason.
    const out = await this.client.send(
      new DeleteCommand({ TableName: this.tableName, Key: membershipKey(room, connectionId), ReturnValues: 'ALL_OLD' }),
    );
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: connectionKey(connectionId),
        UpdateExpression: 'DELETE rooms :room',
        ConditionExpression: 'attribute_exists(sk)',
        ExpressionAttributeValues: { ':room': new Set([room]) },
      }),
    ).catch((error: Error) => {
      if (error.name !== 'ConditionalCheckFailedException') throw error;
    });
    return out.Attributes !== undefined;
  }

  members(room: string): AsyncIterable<string> {
    return this.#ids(roomPartition(room));
  }

  all(): AsyncIterable<string> {
    return this.#ids(connectionsPartition);
  }

  /** Pages of ids, as DynamoDB returns them (at most pageSize items or 1 MB each). */
  async *pages(partition: string): AsyncGenerator<string[]> {
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          // TTL deletion is lazy (up to days): expired rows are still returned, so filter them.
          FilterExpression: '#ttl > :now',
          ProjectionExpression: 'sk',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':pk': partition, ':now': nowSeconds(this.#options.now()) },
          Limit: this.#options.pageSize,
          ExclusiveStartKey,
        }),
      );
      yield (out.Items ?? []).map((item) => item.sk as string);
      ExclusiveStartKey = out.LastEvaluatedKey;
    } while (ExclusiveStartKey !== undefined);
  }

  async *#ids(partition: string): AsyncGenerator<string> {
    for await (const page of this.pages(partition)) yield* page;
  }

  async roomsOf(connectionId: string): Promise<string[]> {
    return (await this.get(connectionId))?.rooms ?? [];
  }

  async get(connectionId: string): Promise<ConnectionInfo | undefined> {
    const out = await this.client.send(new GetCommand({ TableName: this.tableName, Key: connectionKey(connectionId) }));
    const item = out.Item;
    if (item === undefined || Number(item.ttl) <= nowSeconds(this.#options.now())) return undefined;
    return {
      connectionId,
      name: item.name as string | undefined,
      connectedAt: Number(item.connectedAt),
      ttl: Number(item.ttl),
      rooms: [...((item.rooms as Set<string> | undefined) ?? [])].sort(),
    };
  }

  async remove(connectionIds: Iterable<string>, rooms?: ReadonlyMap<string, Iterable<string>>): Promise<RemoveResult> {
    const ids = [...new Set(connectionIds)];
    const result: RemoveResult = { connections: 0, items: 0, requests: { batchGet: 0, batchWrite: 0 } };
    if (ids.length === 0) return result;
    // Each connection item lists its rooms, so 100 connections' memberships cost one BatchGetItem,
    // not one Query per id.
    const { items, calls } = await batchGet(this.client, this.tableName, ids.map(connectionKey), { ProjectionExpression: 'sk, rooms' }, this.#batch);
    result.requests.batchGet = calls;
    const roomsById = new Map<string, Set<string>>(ids.map((id) => [id, new Set(rooms?.get(id) ?? [])]));
    for (const item of items) for (const room of (item.rooms as Set<string> | undefined) ?? []) roomsById.get(item.sk as string)?.add(room);
    const deletes = [];
    for (const [id, memberOf] of roomsById) {
      deletes.push({ DeleteRequest: { Key: connectionKey(id) } });
      for (const room of memberOf) deletes.push({ DeleteRequest: { Key: membershipKey(room, id) } });
    }
    result.requests.batchWrite = await batchWrite(this.client, this.tableName, deletes, this.#batch);
    result.connections = ids.length;
    result.items = deletes.length;
    return result;
  }
}
