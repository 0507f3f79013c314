import type { MiddlewareObj, Request } from '@middy/core';
import type { Context } from 'aws-lambda';
import { transportFor, type TransportFactory, type TransportKind } from '../src/management/clients.ts';
import { managementEndpoint, regionOf } from '../src/management/endpoint.ts';
import type { Transport } from '../src/management/transport.ts';
import type { BackoffOptions } from '../src/outbox/backoff.ts';
import { deliver, type DeliveryOutcome } from '../src/outbox/deliver.ts';
import { Outbox } from '../src/outbox/outbox.ts';
import { tasksOf } from '../src/outbox/recipients.ts';
import { buildReport, logReport } from '../src/outbox/report.ts';
import { maxPayloadBytes } from '../src/outbox/serialize.ts';
import { ConnectionStore } from '../src/store/connection-store.ts';
import type { Store } from '../src/store/store.ts';
import { checkNumber, withDefaults } from '../src/options.ts';
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
  /** Time kept back from the Lambda deadline: no attempt starts inside it. */
  safetyMarginMs?: number;
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
  /** Receives the delivery report of every invocation. */
  onReport?: (report: DeliveryReport, context: Context) => void | Promise<void>;
  /** Where the one-line JSON report goes; `false` to keep quiet. */
  logger?: ((line: string) => void) | false;
}

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
  // Room for the requests in flight to finish, the prune, and the response to leave.
  safetyMarginMs: 500,
  fallbackTimeoutMs: 30_000,
  backoff: { baseMs: 50, throttledBaseMs: 200, capMs: 2000 },
  // The signed path sends byte-identical requests to PostToConnectionCommand (proven by
  // test/unit/signed-transport.test.ts) at ~20 % of its CPU per message and under half its memory.
  transport: 'signed' as TransportKind | TransportFactory,
  maxPayloadBytes,
  logger: ((line: string) => console.log(line)) as ((line: string) => void) | false,
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

/** Bad numbers fail here, when the handler module loads, with the option's name. */
const checkOptions = (config: typeof outboxDefaults & OutboxOptions): void => {
  checkNumber('outbox concurrency', config.concurrency, { min: 1, integer: true });
  checkNumber('outbox maxAttempts', config.maxAttempts, { min: 1, integer: true });
  checkNumber('outbox requestTimeoutMs', config.requestTimeoutMs, { min: 1 });
  checkNumber('outbox connectionTimeoutMs', config.connectionTimeoutMs, { min: 1 });
  checkNumber('outbox safetyMarginMs', config.safetyMarginMs);
  checkNumber('outbox fallbackTimeoutMs', config.fallbackTimeoutMs, { min: 1 });
  checkNumber('outbox maxPayloadBytes', config.maxPayloadBytes, { min: 1, integer: true });
  checkNumber('outbox backoff.baseMs', config.backoff.baseMs);
  checkNumber('outbox backoff.throttledBaseMs', config.backoff.throttledBaseMs);
  checkNumber('outbox backoff.capMs', config.backoff.capMs);
};

type WsRequest = Request<WsEvent, unknown, Error, WsContext>;

/**
 * The outbox middleware: gives the handler `context.outbox` (and `context.store`), then delivers
 * everything it enqueued before the response goes back. Lambda freezes the environment when the
 * handler's promise settles, so sends must finish here, not "in the background".
 */
export const outbox = (options: OutboxOptions = {}): MiddlewareObj<WsEvent, unknown, Error, WsContext> => {
  const config = withDefaults(outboxDefaults, { ...options, backoff: withDefaults(outboxDefaults.backoff, options.backoff ?? {}) });
  checkOptions(config);

  const storeFor = (context: WsContext): Store | undefined => {
    const override = testingOverrides(context);
    if (override?.store) return override.store;
    if (config.store === false) return undefined;
    return config.store ?? defaultStore();
  };

  const before = (request: WsRequest): void => {
    const { event, context } = request;
    const routeKey = event.requestContext?.routeKey;
    context.outbox = new Outbox({
      connectionId: event.requestContext?.connectionId,
      connecting: routeKey === '$connect',
      maxPayloadBytes: config.maxPayloadBytes,
      storeAvailable: storeFor(context) !== undefined,
    });
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

  const flush = async (request: WsRequest): Promise<DeliveryReport> => {
    const started = Date.now();
    const entries = request.context.outbox.close();
    const store = storeFor(request.context);
    const remaining = request.context.getRemainingTimeInMillis?.() ?? config.fallbackTimeoutMs;
    const deadline = started + remaining - config.safetyMarginMs;
    let outcome: DeliveryOutcome;
    if (entries.length === 0) {
      outcome = { queued: 0, sent: 0, gone: [], failed: [], closed: [], goneRooms: new Map() };
    } else {
      outcome = await deliver(tasksOf(entries, store), {
        transport: await transportOf(request),
        concurrency: config.concurrency,
        maxAttempts: config.maxAttempts,
        requestTimeoutMs: config.requestTimeoutMs,
        deadline,
        hardDeadline: deadline + config.safetyMarginMs / 2,
        backoff: config.backoff,
      });
    }
    let pruned = 0;
    let pruneError: unknown;
    const toPrune = [...outcome.gone, ...outcome.closed];
    if (store !== undefined && toPrune.length > 0) {
      // A failed prune must not fail the invocation: the rows also expire by TTL.
      try {
        pruned = (await store.remove(toPrune, outcome.goneRooms)).connections;
      } catch (error) {
        pruneError = error;
      }
    }
    const report = buildReport(outcome, pruned, Date.now() - started);
    if (config.logger && entries.length > 0) logReport(config.logger, report, request, { pruneError, sourceError: outcome.error });
    testingOverrides(request.context)?.onReport?.(report);
    await config.onReport?.(report, request.context);
    if (outcome.error !== undefined) {
      throw new Error(`could not read the recipients: ${(outcome.error as Error).message ?? outcome.error}`, { cause: outcome.error });
    }
    return report;
  };

  const after = async (request: WsRequest): Promise<void> => {
    await flush(request);
  };

  const onError = async (request: WsRequest): Promise<void> => {
    const { context, event } = request;
    // before() may not have run (an earlier middleware threw).
    if (!(context.outbox instanceof Outbox)) return;
    // Nothing the failed handler enqueued is sent: no half-done state escapes.
    context.outbox.discard();
    context.outbox.reopen();
    const routeKey = event.requestContext?.routeKey;
    if (event.requestContext?.connectionId && routeKey !== '$connect' && routeKey !== '$disconnect') {
      context.outbox.reply({ type: 'error', message: errorMessageOf(request) });
    }
    try {
      await flush(request);
    } catch (error) {
      // The original error is what matters; the reply failing is in the report already.
      console.error(JSON.stringify({ level: 'error', msg: 'ws-outbox: error reply failed', error: String(error) }));
    }
  };

  return { before, after, onError };
};

/** A 4xx message is the caller's to see; a 5xx message may hold internals, so it stays generic. */
const errorMessageOf = (request: Pick<WsRequest, 'error' | 'response'>): string => {
  const error = request.error as (Error & { statusCode?: number; expose?: boolean }) | null | undefined;
  const response = request.response as { statusCode?: number } | undefined;
  const status = response?.statusCode ?? error?.statusCode ?? 500;
  if (status < 500 && error?.expose !== false && error?.message) return error.message;
  return 'Internal server error';
};
