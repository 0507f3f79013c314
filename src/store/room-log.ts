// The room log: what was sent to a room (or to a user) during the recovery window, in one order,
// so that a client that reconnects gets what it missed, and every member sees the same order.
//
//   head  pk = "log#<stream>"  sk = "head"               seq (the last one handed out), ttl
//   entry pk = "log#<stream>"  sk = "seq#<16 digits>"    payload (the bytes sent), ttl
//
// <stream> is "room#<room>" or "user#<userId>". A sequence is handed out by one UpdateItem on the
// head (`SET seq = if_not_exists(seq, :base) + :n`), atomic in DynamoDB, so two invocations never
// get the same one, and a flush with several messages for one room reserves them in one call.
// A new head starts at a base taken from the clock (ms × 1000), never at 0: a head that expired
// (a room quiet for longer than its TTL) restarts far above any sequence a client still holds,
// so the client sees a gap (and a reset) rather than "old" numbers it would drop as duplicates.
// Entries expire with the window; TTL deletion is lazy, so reads filter on `ttl`.
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClientOf, GetCommand, QueryCommand, UpdateCommand, type DocumentClient } from './dynamodb/document-client.ts';
import { checkNumber, withDefaults } from '../options.ts';
import { batchDefaults, batchWrite, type BatchOptions, type WriteRequest } from './batch.ts';
import { nowSeconds } from './keys.ts';

export const logPartition = (stream: string) => `log#${stream}`;
export const roomStream = (room: string) => `room#${room}`;
export const userStream = (userId: string) => `user#${userId}`;
const headKey = (stream: string) => ({ pk: logPartition(stream), sk: 'head' });
const seqWidth = 16;
export const entrySortKey = (seq: number) => `seq#${String(seq).padStart(seqWidth, '0')}`;

/** The recovery window's default: Socket.IO's and Ably's two minutes. */
export const defaultWindowSeconds = 120;

export interface RoomLogOptions {
  tableName: string;
  /** The store's client (or an SDK DynamoDBDocumentClient). */
  client: DocumentClient | DynamoDBDocumentClient;
  /** How long entries are kept: at least the sessions' recovery window. */
  windowSeconds?: number;
  /** How long a quiet stream keeps its head (and so its numbering). */
  headSeconds?: number;
  /** Entries one read returns at most; a longer gap is a reset (resume.ts). */
  maxReplay?: number;
  now?: () => number;
  batch?: Partial<BatchOptions>;
}

const defaults = {
  windowSeconds: defaultWindowSeconds,
  // A week: a room quiet for longer restarts its numbering (see the base above).
  headSeconds: 7 * 24 * 60 * 60,
  maxReplay: 2000,
  now: Date.now,
};

export interface LogEntry {
  seq: number;
  payload: Uint8Array;
}

export interface LogRead {
  /** Retained entries after `after`, oldest first, at most maxReplay. */
  entries: LogEntry[];
  /** The last sequence handed out (0 when the stream has none). */
  head: number;
  /** Where the stream's numbering began (its first sequence is base + 1); 0 when unknown. */
  base?: number;
  /** False when more entries follow than maxReplay allowed. */
  complete: boolean;
}

/** What the outbox and the session route need of a log (RoomLog in DynamoDB, MemoryRoomLog in memory). */
export interface MessageLog {
  readonly windowSeconds: number;
  allocate(stream: string, count: number, signal?: AbortSignal): Promise<number>;
  append(stream: string, entries: LogEntry[], signal?: AbortSignal): Promise<void>;
  head(stream: string, signal?: AbortSignal): Promise<number>;
  read(stream: string, after: number, signal?: AbortSignal): Promise<LogRead>;
}

export class RoomLog implements MessageLog {
  readonly tableName: string;
  readonly client: DocumentClient;
  readonly windowSeconds: number;
  readonly #options: typeof defaults;
  readonly #batch: BatchOptions;

  constructor(options: RoomLogOptions) {
    this.tableName = options.tableName;
    this.client = documentClientOf(options.client);
    this.#options = withDefaults(defaults, {
      windowSeconds: options.windowSeconds,
      headSeconds: options.headSeconds,
      maxReplay: options.maxReplay,
      now: options.now,
    });
    this.windowSeconds = checkNumber('room log windowSeconds', this.#options.windowSeconds, { min: 1, integer: true });
    checkNumber('room log headSeconds', this.#options.headSeconds, { min: 1, integer: true });
    checkNumber('room log maxReplay', this.#options.maxReplay, { min: 1, integer: true });
    this.#batch = withDefaults(batchDefaults, options.batch ?? {});
  }

  /** Reserves `count` consecutive sequences of a stream; resolves with the first. */
  async allocate(stream: string, count: number, signal?: AbortSignal): Promise<number> {
    const now = this.#options.now();
    const out = await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: headKey(stream),
        // `base` remembers where this numbering began: a position before it (a room joined before
        // its first message) is its start, not a gap.
        UpdateExpression: 'SET seq = if_not_exists(seq, :base) + :n, #base = if_not_exists(#base, :base), #ttl = :ttl',
        // Both are DynamoDB reserved words.
        ExpressionAttributeNames: { '#ttl': 'ttl', '#base': 'base' },
        ExpressionAttributeValues: { ':base': now * 1000, ':n': count, ':ttl': nowSeconds(now) + this.#options.headSeconds },
        ReturnValues: 'UPDATED_NEW',
      }),
      { abortSignal: signal },
    );
    return Number(out.Attributes?.seq) - count + 1;
  }

  /** Writes entries (BatchWriteItem, 25 a call, leftovers retried). Throws when any is left unwritten. */
  async append(stream: string, entries: LogEntry[], signal?: AbortSignal): Promise<void> {
    const ttl = nowSeconds(this.#options.now()) + this.#options.windowSeconds;
    const puts: WriteRequest[] = entries.map(({ seq, payload }) => ({
      PutRequest: { Item: { pk: logPartition(stream), sk: entrySortKey(seq), payload, ttl } },
    }));
    const out = await batchWrite(this.client, this.tableName, puts, this.#batch, signal);
    if (out.left.length > 0)
      throw new Error(
        `room log: ${out.left.length} of ${puts.length} entries of ${stream} not written: ${String((out.error as Error)?.message ?? out.error ?? 'aborted')}`,
        { cause: out.error },
      );
  }

  /** The last sequence handed out in a stream, 0 when none (strongly consistent). */
  async head(stream: string, signal?: AbortSignal): Promise<number> {
    return (await this.#head(stream, signal)).head;
  }

  async #head(stream: string, signal?: AbortSignal): Promise<{ head: number; base: number }> {
    const out = await this.client.send(new GetCommand({ TableName: this.tableName, Key: headKey(stream), ConsistentRead: true }), { abortSignal: signal });
    const item = out.Item;
    if (item === undefined || Number(item.ttl) <= nowSeconds(this.#options.now())) return { head: 0, base: 0 };
    return { head: Number(item.seq), base: Number(item.base ?? 0) };
  }

  /**
   * The retained entries after `after`, read strongly consistent (an entry written before the read
   * began is in it), and the head read first, so every entry up to that head had been allocated.
   */
  async read(stream: string, after: number, signal?: AbortSignal): Promise<LogRead> {
    const { head, base } = await this.#head(stream, signal);
    const entries: LogEntry[] = [];
    if (head <= after) return { entries, head, base, complete: true };
    let start: Record<string, unknown> | undefined;
    const now = nowSeconds(this.#options.now());
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :last',
          FilterExpression: '#ttl > :now',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':pk': logPartition(stream), ':first': entrySortKey(after + 1), ':last': entrySortKey(head), ':now': now },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
        { abortSignal: signal },
      );
      for (const item of out.Items ?? []) {
        if (entries.length === this.#options.maxReplay) return { entries, head, base, complete: false };
        entries.push({ seq: Number(String(item.sk).slice(4)), payload: item.payload as Uint8Array });
      }
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
    return { entries, head, base, complete: true };
  }
}
