import middy, { type MiddyfiedHandler } from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { outboxDefaults, outboxOptionsSchema, type OutboxOptions } from '../../middleware/outbox.ts';
import { transportFor } from '../management/clients.ts';
import { regionOf } from '../management/endpoint.ts';
import { abortable } from '../outbox/abortable.ts';
import { flush } from '../outbox/flush.ts';
import type { ExpandOptions, Task } from '../outbox/recipients.ts';
import type { ReportMetrics } from '../outbox/metrics.ts';
import { logReport } from '../outbox/report.ts';
import { withDefaults } from '../options.ts';
import { checkOptions, pickRules, type Schema } from '../schema.ts';
import { ConnectionStore } from '../store/connection-store.ts';
import { readShards } from '../store/read-shards.ts';
import type { PageTarget, Store } from '../store/store.ts';
import type { DeliveryReport } from '../types.ts';
import { continuationsOf, isTransient, type ShardProgress } from './continuation.ts';
import { checkFanoutMessage, listedIds, pinnedEndpoint } from './guard.ts';
import { bodyOf, decodePayload, parseFanoutMessage, type FanoutMessage } from './message.ts';
import { addFanoutMetrics, publishUnclaimedMetrics } from './metrics.ts';
import { changeVisibility, sqsSender, type QueueSender } from './queue.ts';

/** The delivery options are the outbox's (README, "Options"), with the same defaults. */
export interface FanoutOptions
  extends Pick<
    OutboxOptions,
    | 'concurrency'
    | 'maxAttempts'
    | 'requestTimeoutMs'
    | 'connectionTimeoutMs'
    | 'safetyMarginMs'
    | 'reserveMs'
    | 'connectGraceMs'
    | 'disconnectStalled'
    | 'fallbackTimeoutMs'
    | 'backoff'
    | 'transport'
    | 'logger'
  > {
  /** The connection store; by default a DynamoDB store on TABLE_NAME. It must page from a cursor (pagesOf). */
  store?: Store;
  /**
   * The one @connections endpoint it posts to; by default AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI,
   * else `https://{WEBSOCKET_API_ID}.execute-api.{region}.{dnsSuffix}/{WEBSOCKET_STAGE}`. Never the
   * message's: a message naming another endpoint is refused (guard.ts).
   */
  endpoint?: string;
  /** Where continuations go (and whose messages' visibility is changed); default FANOUT_QUEUE_URL. */
  queueUrl?: string;
  /** Or a sender of your own (tests). */
  queue?: QueueSender;
  /**
   * A shard that made no progress comes back after this many seconds, doubled at each receive
   * (ChangeMessageVisibility), instead of the queue's whole visibility timeout.
   */
  retryDelaySeconds?: number;
  onReport?: (report: FanoutReport, context: Context) => void | Promise<void>;
  /**
   * A Powertools `Metrics` instance: each shard's report becomes EMF metrics (the outbox's, with
   * route `$fanout`, plus Read and ShardsDone/ShardsContinued/ShardsRetried), published by a
   * logMetrics you add with .use(), or by the worker itself without one.
   */
  metrics?: ReportMetrics;
}

/** One shard's delivery report: the outbox's, plus where the shard stands. */
export type FanoutReport = DeliveryReport & {
  fanout: {
    id: string;
    target: 'all' | 'room';
    room?: string;
    shard?: number;
    hop: number;
    receiveCount: number;
    /** `done`: delivered to the end; `continued`: the rest is on the queue as new messages; `retry`: back to the queue as it was (no progress, or continuing failed). */
    outcome: 'done' | 'continued' | 'retry';
    /** Recipients read from the store in this invocation. */
    read: number;
    /** Where the next message starts. */
    cursor?: string;
    /** Ids carried on to be sent again (transient failures). */
    retried: number;
    /** Ids the message carried that the store does not list in its shard or room: not posted. */
    unlisted?: number;
    continuations: number;
    error?: string;
  };
};

export const fanoutDefaults = {
  concurrency: outboxDefaults.concurrency,
  maxAttempts: outboxDefaults.maxAttempts,
  requestTimeoutMs: outboxDefaults.requestTimeoutMs,
  connectionTimeoutMs: outboxDefaults.connectionTimeoutMs,
  safetyMarginMs: outboxDefaults.safetyMarginMs,
  reserveMs: outboxDefaults.reserveMs,
  connectGraceMs: outboxDefaults.connectGraceMs,
  disconnectStalled: outboxDefaults.disconnectStalled,
  fallbackTimeoutMs: outboxDefaults.fallbackTimeoutMs,
  backoff: outboxDefaults.backoff,
  transport: outboxDefaults.transport,
  retryDelaySeconds: 5,
  logger: outboxDefaults.logger,
};

/** The delivery options the worker shares with the outbox: their rules are the outbox's own. */
const sharedOptions = [
  'concurrency',
  'maxAttempts',
  'requestTimeoutMs',
  'connectionTimeoutMs',
  'safetyMarginMs',
  'reserveMs',
  'connectGraceMs',
  'disconnectStalled',
  'fallbackTimeoutMs',
  'backoff',
  'transport',
  'logger',
  'endpoint',
  'onReport',
  'metrics',
] as const;

/** What fanoutHandler() takes: the outbox's schema for what they share, plus the worker's own. */
export const fanoutOptionsSchema = {
  ...pickRules(outboxOptionsSchema, sharedOptions),
  store: { type: 'object' },
  queueUrl: { type: 'string', pattern: /^https?:\/\//, expected: 'an SQS queue URL' },
  queue: { type: 'object' },
  retryDelaySeconds: { type: 'number' },
} satisfies Schema;

/** Visibility timeouts are at most 12 hours; a retry this far out helps nobody. */
const maxRetryDelaySeconds = 900;

const stores = new Map<string, ConnectionStore>();
const storeOnTable = (): Store => {
  const table = process.env.TABLE_NAME;
  if (!table) throw new Error('the fan-out worker needs a connection store: set TABLE_NAME, or pass { store }');
  return stores.get(table) ?? stores.set(table, new ConnectionStore({ tableName: table })).get(table)!;
};

/** The queue URL of a record's queue, when it is the configured one (ChangeMessageVisibility needs the URL). */
const queueUrlOf = (record: SQSRecord, queueUrl: string | undefined): string | undefined => {
  if (!queueUrl) return undefined;
  const name = record.eventSourceARN?.split(':').pop();
  return name !== undefined && queueUrl.endsWith(`/${name}`) ? queueUrl : undefined;
};

/**
 * The fan-out worker: a Lambda handler for the SQS event source of the fan-out queue. Each record
 * is one shard (or one room) of a spilled toAll/toRoom, delivered from its cursor with the
 * outbox's engine and budget (reads, sends, retries, the prune of 410s, a report). A shard left
 * unfinished goes on as new messages from where this one stopped (continuationsOf), so a retry
 * resumes rather than repeats; a shard that made no progress is reported in batchItemFailures,
 * comes back after retryDelaySeconds, and after the queue's maxReceiveCount lands in its
 * dead-letter queue.
 */
export const fanoutHandler = (options: FanoutOptions = {}): MiddyfiedHandler<SQSEvent, SQSBatchResponse, Error, Context> => {
  const config = withDefaults(fanoutDefaults, { ...options, backoff: withDefaults(fanoutDefaults.backoff, options.backoff ?? {}) });
  checkOptions('fanout', fanoutOptionsSchema, config);

  const handler = middy(async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const records = Array.isArray(event?.Records) ? event.Records : [];
    const queueUrl = config.queueUrl ?? (process.env.FANOUT_QUEUE_URL || undefined);
    const queue = config.queue ?? (queueUrl ? sqsSender(queueUrl) : undefined);
    // Records share the invocation: each gets its part of the concurrency, all the same deadline.
    const concurrency = Math.max(1, Math.floor(config.concurrency / Math.max(1, records.length)));
    const failed: string[] = [];
    await Promise.all(
      records.map(async (record) => {
        const report = await deliverShard(record, context, { ...config, concurrency, queue });
        if (report.fanout.outcome !== 'retry') return;
        failed.push(record.messageId);
        await retryLater(record, report.fanout.receiveCount, queueUrlOf(record, queueUrl), config.retryDelaySeconds);
      }),
    );
    return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
  });
  return config.metrics ? handler.use(publishUnclaimedMetrics(config.metrics)) : handler;
};

type ShardConfig = typeof fanoutDefaults & FanoutOptions & { queue: QueueSender | undefined };

const deliverShard = async (record: SQSRecord, context: Context, config: ShardConfig): Promise<FanoutReport> => {
  const remainingMs = context.getRemainingTimeInMillis?.() ?? config.fallbackTimeoutMs;
  const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? 1);
  let message: FanoutMessage;
  let store: Store;
  let payload: Uint8Array;
  const endpoint = pinnedEndpoint(config.endpoint);
  try {
    message = parseFanoutMessage(record.body);
    payload = decodePayload(message);
    checkFanoutMessage(message, payload, endpoint);
    store = config.store ?? storeOnTable();
    if (typeof store.pagesOf !== 'function') throw new Error('the connection store cannot page from a cursor (pagesOf)');
    if (message.target === 'all' && message.shard! >= (store.shards ?? 1)) {
      throw new Error(
        `shard ${message.shard} of ${message.shards ?? '?'} is not one of this store's ${store.shards ?? 1} shards: give every function the same CONNECTION_SHARDS`,
      );
    }
  } catch (error) {
    // Nothing to deliver with, or refused: back to the queue, and so to the dead-letter queue,
    // where it can be read. Nothing of it is posted.
    const report = unusable(record, receiveCount, error);
    log(config, report, context);
    if (config.metrics) addFanoutMetrics(config.metrics, report);
    await handOver(config, report, context);
    return report;
  }

  const progress: ShardProgress = { cursor: message.cursor, done: message.done === true };
  let read = 0;
  let unlisted: string[] = [];
  let unchecked: string[] = [];
  const except = new Set(message.except ?? []);
  const room = message.target === 'room' ? message.room : undefined;
  const target: PageTarget = room === undefined ? { kind: 'all', shard: message.shard! } : { kind: 'room', room };
  const task = (id: string): Task => (room === undefined ? { op: 'post', id, payload } : { op: 'post', id, payload, room });

  async function* tasks({ signal, unresolved }: ExpandOptions): AsyncGenerator<Task> {
    const carried = await listedIds(store, message, signal);
    ({ unlisted, unchecked } = carried);
    for (const id of carried.listed) if (!except.has(id)) yield task(id);
    if (progress.done) return;
    try {
      // One page ahead, as the sender's own reads; a page is handed over whole or not at all.
      const pages = readShards(() => store.pagesOf!(target, { cursor: progress.cursor, signal }), [message.shard ?? 0], 1);
      for await (const page of abortable(pages, signal)) {
        read += page.ids.length;
        for (const id of page.ids) if (!except.has(id)) yield task(id);
        progress.cursor = page.cursor;
        progress.done = page.cursor === undefined;
      }
    } catch (error) {
      unresolved.push({
        target: message.target,
        ...(room === undefined ? { shard: message.shard } : { room }),
        reason: signal.aborted ? 'deadline' : 'store',
        ...(signal.aborted ? {} : { error: String((error as Error)?.message ?? error) }),
        reached: read,
      });
    }
  }

  const delivery = await flush({
    entries: [],
    tasks,
    discarded: 0,
    store,
    transport: () =>
      transportFor(config.transport, {
        endpoint: endpoint!.postTo,
        region: regionOf(),
        requestTimeoutMs: config.requestTimeoutMs,
        connectionTimeoutMs: config.connectionTimeoutMs,
        maxSockets: config.concurrency,
      }),
    remainingMs,
    options: config,
  });

  if (unlisted.length > 0) {
    console.error(
      JSON.stringify({
        level: 'warn',
        msg: 'ws-outbox: fan-out message carried ids the store does not list (not live, or not in its room); not posted',
        id: message.id,
        ...(room === undefined ? { shard: message.shard } : { room }),
        unlisted: unlisted.length,
        sample: unlisted.slice(0, 5),
      }),
    );
  }
  // Ids not checked against the store yet go on with the retries, to be checked by the next worker.
  const retry = [...new Set([...delivery.failed.filter((f) => isTransient(f.reason)).map((f) => f.connectionId), ...unchecked])];
  const finished = progress.done && retry.length === 0;
  // Progress: something read, or some of the ids it carried resolved (sent, gone, or failed for good).
  const resolved = delivery.sent + delivery.gone.length + delivery.failed.length + unchecked.length - retry.length + unlisted.length;
  const moved = read > 0 || resolved > 0;
  let outcome: FanoutReport['fanout']['outcome'] = finished ? 'done' : 'retry';
  let continuations = 0;
  let error = delivery.unresolved.find((u) => u.reason === 'store')?.error;
  if (!finished && moved) {
    // Enqueued before this message is acknowledged: a crash in between repeats (at least once), never loses.
    const next = continuationsOf(message, progress, retry);
    const sent = config.queue
      ? await config.queue.send(next.map(bodyOf), AbortSignal.timeout(Math.max(100, (context.getRemainingTimeInMillis?.() ?? 1000) - 100)))
      : undefined;
    if (sent && sent.failed.length === 0) {
      outcome = 'continued';
      continuations = next.length;
    } else {
      error = sent?.error ?? 'no fan-out queue to continue on (set FANOUT_QUEUE_URL)';
    }
  }
  const report: FanoutReport = {
    ...delivery,
    fanout: {
      id: message.id,
      target: message.target,
      ...(room === undefined ? { shard: message.shard } : { room }),
      hop: message.hop,
      receiveCount,
      outcome,
      read,
      ...(progress.done ? {} : { cursor: progress.cursor }),
      retried: outcome === 'continued' ? retry.length : 0,
      continuations,
      ...(unlisted.length === 0 ? {} : { unlisted: unlisted.length }),
      ...(error === undefined ? {} : { error }),
    },
  };
  log(config, report, context);
  if (config.metrics) addFanoutMetrics(config.metrics, report);
  await handOver(config, report, context);
  return report;
};

const unusable = (record: SQSRecord, receiveCount: number, error: unknown): FanoutReport => ({
  queued: 0,
  sent: 0,
  gone: [],
  failed: [],
  unresolved: [],
  pruned: 0,
  unpruned: [],
  discarded: 0,
  spilled: 0,
  durationMs: 0,
  fanout: {
    id: record.messageId,
    target: 'all',
    hop: 0,
    receiveCount,
    outcome: 'retry',
    read: 0,
    retried: 0,
    continuations: 0,
    error: String((error as Error)?.message ?? error),
  },
});

const log = (config: ShardConfig, report: FanoutReport, context: Context): void => {
  if (!config.logger) return;
  const { fanout, ...delivery } = report;
  logReport(
    config.logger,
    delivery,
    { event: { requestContext: { routeKey: '$fanout' } }, context },
    { warn: fanout.outcome === 'retry' },
    {
      msg: 'ws-outbox fanout report',
      fanout,
    },
  );
};

const handOver = async (config: ShardConfig, report: FanoutReport, context: Context): Promise<void> => {
  try {
    await config.onReport?.(report, context);
  } catch (error) {
    console.error(JSON.stringify({ level: 'error', msg: 'ws-outbox: fan-out onReport failed', error: String((error as Error)?.message ?? error) }));
  }
};

/** Best effort: if it fails, the queue's own visibility timeout brings the message back. */
const retryLater = async (record: SQSRecord, receiveCount: number, queueUrl: string | undefined, baseSeconds: number): Promise<void> => {
  if (!queueUrl || !record.receiptHandle) return;
  const seconds = Math.min(maxRetryDelaySeconds, Math.round(baseSeconds * 2 ** Math.max(0, receiveCount - 1)));
  try {
    await changeVisibility(queueUrl, record.receiptHandle, seconds);
  } catch (error) {
    console.error(
      JSON.stringify({ level: 'warn', msg: 'ws-outbox: could not reschedule a fan-out message', error: String((error as Error)?.message ?? error) }),
    );
  }
};
