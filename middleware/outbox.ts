import type { MiddlewareObj, Request } from '@middy/core';
import type { Context } from 'aws-lambda';
import { transportFor, type TransportFactory, type TransportKind } from '../src/management/clients.ts';
import { managementEndpoint, regionOf } from '../src/management/endpoint.ts';
import type { Transport } from '../src/management/transport.ts';
import type { BackoffOptions } from '../src/outbox/backoff.ts';
import { sqsSender } from '../src/fanout/queue.ts';
import { clientSendFor, settleClientSend } from '../src/sessions/acks.ts';
import { raceAbort } from '../src/outbox/abortable.ts';
import { flush } from '../src/outbox/flush.ts';
import { Outbox } from '../src/outbox/outbox.ts';
import { addReportMetrics, holdPublish, powertoolsMetricsKey, type PublishHold, type ReportMetrics } from '../src/outbox/metrics.ts';
import { logReport, type ReportLog } from '../src/outbox/report.ts';
import { maxPayloadBytes } from '../src/outbox/serialize.ts';
import { ConnectionStore } from '../src/store/connection-store.ts';
import type { Store } from '../src/store/store.ts';
import type { MessageLog } from '../src/store/room-log.ts';
import { withDefaults } from '../src/options.ts';
import { checkOptions, type Schema } from '../src/schema.ts';
import { testingOverrides } from '../src/testing/overrides.ts';
import type { DeliveryReport, WsContext, WsEvent } from '../src/types.ts';

export interface OutboxOptions {
  /** Requests in flight at once (and keep-alive sockets). */
  concurrency?: number;
  /** Attempts per message, the first included, for 429, 5xx, network errors and timeouts. */
  maxAttempts?: number;
  /** Ceiling for one PostToConnection. */
  requestTimeoutMs?: number;
  connectionTimeoutMs?: number;
  /** Time kept back from the Lambda deadline: the whole flush (reads, sends, prune, onReport) ends before it. */
  safetyMarginMs?: number;
  /** The end of the flush's budget kept from store reads: for sends queued behind a hung read, requests in flight, the prune and onReport. */
  reserveMs?: number;
  /** A 410 for a connection whose row is younger than this does not prune it: API Gateway answers 410 until $connect returns. */
  connectGraceMs?: number;
  /**
   * A client that keeps answering 429 while others get through is not reading: the flush gives up
   * on it at once (failed, reason `stalled`). `true` also closes it (DeleteConnection), and its row
   * is pruned. Default false: only reported.
   */
  disconnectStalled?: boolean;
  /** Used when the context has no getRemainingTimeInMillis (plain scripts, some tests). */
  fallbackTimeoutMs?: number;
  backoff?: Partial<BackoffOptions>;
  /** `sdk` (PostToConnectionCommand), `signed` (the SDK's credential chain, a specialised SigV4 signer and a lean keep-alive HTTP/1.1 client, without the command stack), or a factory. */
  transport?: TransportKind | TransportFactory;
  /** The connection store; by default a DynamoDB store on TABLE_NAME. `false`: none (no rooms, no pruning). */
  store?: Store | false;
  /** The @connections endpoint; by default AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI, else derived from the event. */
  endpoint?: string;
  maxPayloadBytes?: number;
  /** Receives the delivery report of every invocation, once, within the flush's budget; its errors are logged, never raised. */
  onReport?: (report: DeliveryReport, context: Context) => void | Promise<void>;
  /**
   * Where the report goes: a function taking one JSON line (default console.log), a structured
   * logger such as Powertools' `Logger` (`logger.info` / `logger.warn` with the report's fields),
   * or `false` to keep quiet.
   */
  logger?: ReportLog | false;
  /**
   * A Powertools `Metrics` instance: each report becomes EMF metrics (Sent, Gone, Failed and
   * Failed<Reason>, Pruned, DurationMs, …) with the route as a dimension, in the blob that
   * Powertools' `logMetrics` publishes for the invocation.
   */
  metrics?: ReportMetrics;
  /**
   * toAll/toRoom past one invocation: past `threshold` recipients (all its room and "all" entries
   * together), or past its read budget, the rest goes to the SQS queue `queueUrl` (default
   * FANOUT_QUEUE_URL), one message per shard, for the fan-out workers. `false`, or no queue: never.
   */
  fanout?: { queueUrl?: string; threshold?: number } | false;
}

/**
 * Recipients one invocation sends itself before it spills the rest: about what it sends in the
 * time a spill takes to get the first worker going (bench/README.md, "Fan-out": ~10,000 messages
 * a second on one core, a hop of 0.5–1.2 s), so a broadcast spills only when the workers can
 * finish sooner. Lambda gives a function a share of a vCPU in proportion to its memory (a whole
 * one at 1,769 MB), and the rate follows: 5,000 at 1,769 MB or more, ~700 at 256 MB.
 */
export const defaultSpillThreshold = (env: NodeJS.ProcessEnv = process.env): number => {
  const memory = Number(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
  if (!(memory > 0) || memory >= 1769) return 5000;
  return Math.max(500, Math.round((5000 * memory) / 1769 / 100) * 100);
};

/**
 * In-flight requests by function size. On the bench (2 cores, N = 10,000, 20 ms round trip) 100 in
 * flight halves the wall time of 50 at the same peak RSS, but a function of 512 MB or less gets a
 * fraction of a vCPU (Lambda's CPU share grows with MemorySize), where the sender is CPU-bound and
 * more in flight only queues. More than 100 would, at a 20 ms round trip, approach the account's
 * 10,000 requests/s API Gateway throttle from a single function.
 */
export const defaultConcurrency = (env: NodeJS.ProcessEnv = process.env): number => {
  const memory = Number(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
  return memory > 0 && memory <= 512 ? 50 : 100;
};

export const outboxDefaults = {
  concurrency: defaultConcurrency(),
  // The first try plus three retries: enough to ride out a burst of 429s, few enough to stay
  // inside a short timeout.
  maxAttempts: 4,
  // A PostToConnection takes tens of ms; 2 s means the socket is hung, not slow.
  requestTimeoutMs: 2000,
  connectionTimeoutMs: 1000,
  // Room for the response to leave (and Middy's own after-work) once the flush has ended.
  safetyMarginMs: 500,
  // Kept back from store reads, in quarters (budget.ts): sends queued behind a hung read, requests
  // in flight (a hung one is cut), the prune (~40 parallel batch calls for 1,000 gone
  // connections take ~50 ms), onReport.
  reserveMs: 1000,
  // API Gateway's integration timeout is at most 29 s, so by then any $connect has returned.
  connectGraceMs: 30_000,
  disconnectStalled: false,
  fallbackTimeoutMs: 30_000,
  backoff: { baseMs: 50, throttledBaseMs: 200, capMs: 2000 },
  // The signed path sends byte-identical requests to PostToConnectionCommand (proven by
  // test/framework/unit/signed-transport.test.ts) at ~20 % of its CPU per message and under half its memory.
  transport: 'signed' as TransportKind | TransportFactory,
  maxPayloadBytes,
  logger: ((line: string) => console.log(line)) as ReportLog | false,
};

// Warm invocations reuse the store (and its DynamoDB client).
const storesByTable = new Map<string, ConnectionStore>();
const defaultStore = (): Store | undefined => {
  const table = process.env.TABLE_NAME;
  if (!table) return undefined;
  let store = storesByTable.get(table);
  if (store === undefined) storesByTable.set(table, (store = new ConnectionStore({ tableName: table })));
  return store;
};

const positiveInteger = { type: 'number', min: 1, integer: true } as const;
const positive = { type: 'number', min: 1 } as const;
const nonNegative = { type: 'number' } as const;
const logSink = {
  type: 'anyOf',
  rules: [{ type: 'function' }, { type: 'object' }, { type: 'literal', values: [false] }],
  expected: 'a function, a logger (Powertools Logger) or false',
} as const;

/**
 * What outbox() takes, checked when the handler module loads (a bad value fails the cold start
 * with the option's name, not the first send). The fan-out worker's schema is derived from it.
 */
export const outboxOptionsSchema = {
  concurrency: positiveInteger,
  maxAttempts: positiveInteger,
  requestTimeoutMs: positive,
  connectionTimeoutMs: positive,
  safetyMarginMs: nonNegative,
  reserveMs: nonNegative,
  connectGraceMs: nonNegative,
  disconnectStalled: { type: 'boolean' },
  fallbackTimeoutMs: positive,
  maxPayloadBytes: positiveInteger,
  backoff: { type: 'object', fields: { baseMs: nonNegative, throttledBaseMs: nonNegative, capMs: nonNegative } },
  transport: {
    type: 'anyOf',
    rules: [{ type: 'literal', values: ['sdk', 'signed'] }, { type: 'function' }],
    expected: "'sdk', 'signed' or a transport factory",
  },
  store: { type: 'anyOf', rules: [{ type: 'object' }, { type: 'literal', values: [false] }], expected: 'a Store or false' },
  endpoint: { type: 'string', pattern: /^https?:\/\//, expected: 'an http(s) URL' },
  onReport: { type: 'function' },
  logger: logSink,
  metrics: { type: 'object' },
  fanout: {
    type: 'anyOf',
    rules: [
      { type: 'literal', values: [false] },
      {
        type: 'object',
        fields: { queueUrl: { type: 'string', pattern: /^https?:\/\//, expected: 'an SQS queue URL' }, threshold: { type: 'number', integer: true } },
      },
    ],
    expected: '{ queueUrl?, threshold? } or false',
  },
} satisfies Schema;

type WsRequest = Request<WsEvent, unknown, Error, WsContext>;

/** Where the outbox keeps its cleanup in Middy's `request.internal`, as Powertools does with its own. */
export const outboxInternalKey = 'ws-outbox.outbox';

/**
 * Settles the outbox of a request (flush, or discard after a failure) if it is not settled yet,
 * and resolves with its one report. For a middleware of yours that ends the chain early, as
 * Powertools' `cleanupMiddlewares(request)`; wsHandler also runs it as Middy's `requestEnd` hook,
 * which Middy awaits after every request whatever the middlewares did.
 */
export const cleanupOutbox = async (request: { internal?: Record<string, unknown> }): Promise<DeliveryReport | undefined> => {
  const settle = request.internal?.[outboxInternalKey];
  return typeof settle === 'function' ? (settle as () => Promise<DeliveryReport>)() : undefined;
};

/**
 * The outbox middleware: gives the handler `context.outbox` (and `context.store`), then delivers
 * everything it enqueued before the response goes back. Lambda freezes the environment when the
 * handler's promise settles, so sends must finish here, not "in the background".
 *
 * Exactly one settlement per invocation, whichever comes first: `after` (flush), `onError`
 * (discard what the failed part enqueued, reply `{"type":"error"}`, flush the rest), or the
 * cleanup (an early return skipped both). Each ends in one report.
 */
export const outbox = (options: OutboxOptions = {}): MiddlewareObj<WsEvent, unknown, Error, WsContext> => {
  const config = withDefaults(outboxDefaults, { ...options, backoff: withDefaults(outboxDefaults.backoff, options.backoff ?? {}) });
  // Bad values fail here, when the handler module loads, with the option's name.
  checkOptions('outbox', outboxOptionsSchema, config);
  const settled = new WeakMap<Outbox, Promise<DeliveryReport>>();
  const publishHolds = new WeakMap<Outbox, PublishHold>();

  const storeFor = (context: WsContext): Store | undefined => {
    const override = testingOverrides(context);
    if (override?.store) return override.store;
    if (config.store === false) return undefined;
    return config.store ?? defaultStore();
  };

  const before = (request: WsRequest): void => {
    const { event, context } = request;
    const routeKey = event.requestContext?.routeKey;
    const box = new Outbox({
      connectionId: event.requestContext?.connectionId,
      connecting: routeKey === '$connect',
      maxPayloadBytes: config.maxPayloadBytes,
      storeAvailable: storeFor(context) !== undefined,
      // Middy sets request.error before its onError phase: what is enqueued from then on is the
      // error path's own (a user onError's reply) and survives the discard.
      failing: () => request.error != null,
    });
    context.outbox = box;
    // Resolved on first use, so handlers that never touch the store need no table.
    Object.defineProperty(context, 'store', {
      configurable: true,
      enumerable: false,
      get: () => {
        const store = storeFor(context);
        if (store === undefined) throw new Error('context.store: no connection store (set TABLE_NAME, or pass { store })');
        return store;
      },
    });
    (request.internal as Record<string, unknown>)[outboxInternalKey] = () => settle(request, box, 'cleanup');
    // A logMetrics registered after the outbox (inside it) publishes before the report exists;
    // one registered before it has run its `before` by now and publishes after the report.
    if (config.metrics && !(powertoolsMetricsKey in request.internal)) publishHolds.set(box, holdPublish(config.metrics));
  };

  const transportOf = async (request: WsRequest): Promise<Transport> => {
    const override = testingOverrides(request.context);
    if (override?.transport) return override.transport;
    return transportFor(config.transport, {
      endpoint: config.endpoint ?? managementEndpoint(request.event),
      region: regionOf(),
      requestTimeoutMs: config.requestTimeoutMs,
      connectionTimeoutMs: config.connectionTimeoutMs,
      maxSockets: config.concurrency,
    });
  };

  const settle = (request: WsRequest, box: Outbox, phase: 'after' | 'onError' | 'cleanup'): Promise<DeliveryReport> => {
    let report = settled.get(box);
    if (report === undefined) settled.set(box, (report = settleOnce(request, box, phase)));
    return report;
  };

  const settleOnce = async (request: WsRequest, box: Outbox, phase: 'after' | 'onError' | 'cleanup'): Promise<DeliveryReport> => {
    const { context, event } = request;
    const remainingMs = context.getRemainingTimeInMillis?.() ?? config.fallbackTimeoutMs;
    const finishBy = Date.now() + remainingMs - config.safetyMarginMs;
    let discarded = 0;
    // A client send (ws-outbox/client's `$cid`) gets its answer here, whatever path settles it.
    const clientSend = clientSendFor(event, context);
    let errorReplied = false;
    const failed = invocationFailed(request);
    if (failed) {
      // Nothing the failed part enqueued is sent: no half-done state escapes.
      discarded = box.discardFailed();
      // Our own error reply, when our onError runs (a user onError that returned early has
      // answered the error its own way).
      const routeKey = event.requestContext?.routeKey;
      if (phase === 'onError' && request.error != null && event.requestContext?.connectionId && routeKey !== '$connect' && routeKey !== '$disconnect') {
        box.reply({
          type: 'error',
          message: errorMessageOf(request),
          ...(clientSend === undefined ? {} : { cid: clientSend.cid }),
          // The claim found an earlier copy still running: whether it ran is not known here.
          ...((request.error as { outcomeUnknown?: boolean }).outcomeUnknown ? { unknown: true } : {}),
        });
        errorReplied = true;
      }
    }
    // The claim's end has until the flush's deadline; a store that ignores the signal is left behind then.
    const finishSignal = clientSend && AbortSignal.timeout(Math.max(1, Math.floor(finishBy - Date.now())));
    const finishing =
      clientSend &&
      finishSignal &&
      settleClientSend(box, clientSend, {
        ran: !failed,
        ok: !failed && succeeded(request),
        signal: finishSignal,
        ...(errorReplied ? {} : { refusal: request.error == null ? `the route answered ${statusOf(request)}` : exposedMessageOf(request.error) }),
      })?.catch((error: unknown) => {
        // The answer is enqueued; a claim left `running` only makes a later resend wait, then refused.
        console.error(
          JSON.stringify({ level: 'error', msg: 'ws-outbox: ending the claim of a client send failed', error: String((error as Error)?.message ?? error) }),
        );
      });
    const entries = box.close();
    const store = storeFor(context);
    const logger = config.logger;
    const testing = testingOverrides(context);
    // Under the testing helper everything stays in memory: no spill to a real queue.
    const queueUrl = config.fanout === false || testing ? undefined : (config.fanout?.queueUrl ?? (process.env.FANOUT_QUEUE_URL || undefined));
    let report: DeliveryReport;
    try {
      report = await flush({
        entries,
        discarded,
        store,
        transport: () => transportOf(request),
        spill:
          queueUrl === undefined
            ? undefined
            : {
                queue: sqsSender(queueUrl),
                threshold: (config.fanout || undefined)?.threshold ?? defaultSpillThreshold(),
                endpoint: () => config.endpoint ?? managementEndpoint(request.event),
                origin: context.awsRequestId ?? 'local',
              },
        remainingMs,
        options: testing?.connectGraceMs === undefined ? config : { ...config, connectGraceMs: testing.connectGraceMs },
        log: logger
          ? (report, extra) => {
              if (worthReporting(report)) logReport(logger, report, request, extra);
            }
          : undefined,
        roomLog: roomLogOf(store),
        onReport: [testing?.onReport, config.onReport && ((report) => config.onReport!(report, context))],
      });
      if (config.metrics && worthReporting(report)) {
        try {
          addReportMetrics(config.metrics, report, event.requestContext?.routeKey);
        } catch (error) {
          console.error(
            JSON.stringify({ level: 'error', msg: 'ws-outbox: adding the report metrics failed', error: String((error as Error)?.message ?? error) }),
          );
        }
      }
    } finally {
      // The claim's write goes alongside the flush; a hung store does not hold the invocation past its budget.
      if (finishing && finishSignal) await raceAbort(finishing, finishSignal).catch(() => undefined);
      // Whatever happened, a held publish does not stay held; with no logMetrics in the stack to
      // publish this invocation's metrics, the outbox publishes them.
      publishHolds.get(box)?.release({ unclaimed: !(powertoolsMetricsKey in request.internal) });
    }
    return report;
  };

  const after = async (request: WsRequest): Promise<void> => {
    if (request.context.outbox instanceof Outbox) await settle(request, request.context.outbox, 'after');
  };

  const onError = async (request: WsRequest): Promise<void> => {
    // before() may not have run (an earlier middleware threw).
    if (request.context.outbox instanceof Outbox) await settle(request, request.context.outbox, 'onError');
  };

  return { before, after, onError };
};

/** The room log of a store with sessions on (ConnectionStore with a window; see README "Reconnects and resume"). */
const roomLogOf = (store: Store | undefined): MessageLog | undefined => (store as { log?: MessageLog } | undefined)?.log;

/** An invocation that enqueued nothing (and dropped nothing) has nothing to log or count. */
const worthReporting = (report: DeliveryReport): boolean => report.queued + report.discarded + report.unresolved.length + report.spilled > 0;

/**
 * The handler (or a middleware) threw, or `$connect` answered non-2xx: API Gateway refuses that
 * connection, so what its $connect enqueued is dropped as if it had thrown.
 */
const invocationFailed = (request: WsRequest): boolean => {
  if (request.error != null) return true;
  const status = (request.response as { statusCode?: number } | undefined)?.statusCode;
  return request.event.requestContext?.routeKey === '$connect' && status !== undefined && (status < 200 || status > 299);
};

const statusOf = (request: Pick<WsRequest, 'response'>): number | undefined => (request.response as { statusCode?: number } | undefined)?.statusCode;

/** The route answered 2xx (or nothing, which wsHandler makes a 200). */
const succeeded = (request: WsRequest): boolean => {
  const status = statusOf(request);
  return status === undefined || (status >= 200 && status <= 299);
};

/**
 * An error's own message when it says it is the caller's to see (a 4xx that is not `expose: false`),
 * else a generic one: a 5xx message may hold internals. `status` defaults to the error's own.
 */
const exposedMessageOf = (error: unknown, status?: number): string => {
  const e = error as { statusCode?: number; expose?: boolean; message?: string } | null | undefined;
  return (status ?? e?.statusCode ?? 500) < 500 && e?.expose !== false && e?.message ? e.message : 'Internal server error';
};

/** Our error reply's message: the response's status, where one is set, decides before the error's. */
const errorMessageOf = (request: Pick<WsRequest, 'error' | 'response'>): string => exposedMessageOf(request.error, statusOf(request));
