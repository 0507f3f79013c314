// The local gateway: one loopback HTTP server that is the WebSocket API, the @connections
// management API and the demo page; an embedded DynamoDB with the template's tables; an embedded
// SQS with the template's queues, and pollers playing the functions' SQS event source mappings;
// and a pool of local Lambda instances per function, running the bundles with the template's
// environment.
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadAppModel, type AppModel } from './app-model.ts';
import { SqsEventSource, type BatchReport } from './event-sources.ts';
import { startSqs, type LocalQueue, type LocalSqs } from './sqs.ts';
import { buildBundles, type BuiltFunction } from './bundles.ts';
import { ConnectionRegistry } from './connections.ts';
import { localCredentials, startDynamo, type LocalDynamo } from './dynamodb.ts';
import { FunctionPool } from './function-pool.ts';
import { InvocationLedger, type LateSend } from './invocations.ts';
import { createLogger, type Logger } from './log.ts';
import { createManagementApi, isManagementPath } from './management-api.ts';
import { serveDemo } from './static.ts';
import { startWorkerGuard } from './worker-guard.ts';
import { createWebSocketApi, type InvocationReport } from './websocket-api.ts';

export interface GatewayOptions {
  /** The SAM template to serve. */
  template: string;
  host: string;
  /** WebSocket + management API + demo page. 0 picks a free port. */
  port: number;
  /** The embedded DynamoDB. 0 picks a free port. */
  dynamodbPort: number;
  /** The embedded SQS, when the template has queues. 0 picks a free port (the default when dynamodbPort is 0). */
  sqsPort: number;
  stage: string;
  region: string;
  apiId: string;
  /** Where the bundles go: undefined → each function's CodeUri, as `npm run build`. */
  outdir?: string;
  idleTimeoutMs: number;
  maxDurationMs: number;
  maxMessageBytes: number;
  maxFrameBytes: number;
  /** false: $disconnect never runs (API Gateway delivers it best effort); stale rows then rely on 410 pruning and TTL. */
  runDisconnect: boolean;
  /** Concurrent instances per function; more invocations queue. */
  maxInstances: number;
  quiet: boolean;
  logger?: Logger;
  /** Template parameter overrides. */
  parameters?: Record<string, string>;
}

export const gatewayDefaults: GatewayOptions = {
  template: 'template.yaml',
  host: '127.0.0.1',
  port: 3001,
  dynamodbPort: 8000,
  sqsPort: 9324,
  stage: 'local',
  region: 'us-east-1',
  apiId: 'localapi01',
  idleTimeoutMs: 10 * 60 * 1000,
  maxDurationMs: 2 * 60 * 60 * 1000,
  maxMessageBytes: 128 * 1024,
  maxFrameBytes: 32 * 1024,
  maxInstances: 10,
  runDisconnect: true,
  quiet: false,
};

export interface Gateway {
  wsUrl: string;
  /** What handlers get as AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI (includes the stage). */
  managementEndpoint: string;
  dynamodbEndpoint: string;
  /** The embedded SQS, when the template has queues. */
  sqsEndpoint: string | undefined;
  /** The template's queues by logical id, as the embedded SQS named them. */
  queues: Map<string, LocalQueue>;
  /** The first table of the template (the connection table), by its local name. */
  tableName: string | undefined;
  port: number;
  model: AppModel;
  built: BuiltFunction[];
  /** Every LATE SEND so far, oldest first. */
  lateSends: LateSend[];
  /** 'invocation' (InvocationReport), 'delivery' (Delivery), 'late-send' (LateSend) and 'event-source' (BatchReport: a batch of SQS records a function handled). */
  events: EventEmitter;
  /** Rebuilds the bundles; new invocations run the new code on fresh instances. */
  rebuild(): Promise<BuiltFunction[]>;
  stop(): Promise<void>;
}

const listen = (server: Server, port: number, host: string): Promise<number> => new Promise((resolve, reject) => {
  server.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'EADDRINUSE'
    ? new Error(`Port ${port} is in use: set PORT to a free port`)
    : error));
  server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
});

export const startGateway = async (options: Partial<GatewayOptions> = {}): Promise<Gateway> => {
  const opts = { ...gatewayDefaults, ...options };
  // Callers that put DynamoDB on a free port (tests) get SQS on one too, unless they say otherwise.
  if (options.sqsPort === undefined && options.dynamodbPort === 0) opts.sqsPort = 0;
  const log = opts.logger ?? createLogger({ quiet: opts.quiet });
  const modelOptions = { region: opts.region, apiId: opts.apiId, stage: opts.stage, parameters: opts.parameters };
  let model = loadAppModel(opts.template, modelOptions);
  const { outdir } = opts;
  const events = new EventEmitter();
  const lateSends: LateSend[] = [];
  const ledger = new InvocationLedger();
  const registry = new ConnectionRegistry();

  const dynamo: LocalDynamo = await startDynamo({ host: opts.host, port: opts.dynamodbPort, tables: model.tables, region: opts.region });
  let sqs: LocalSqs | undefined;
  try {
    if (model.queues.length > 0) {
      sqs = await startSqs({ host: opts.host, port: opts.sqsPort, queues: model.queues, region: opts.region });
      // Now that the queues have their local URLs, `!Ref Queue` in an environment resolves to them.
      model = loadAppModel(opts.template, { ...modelOptions, queues: sqs.queues });
    }
  } catch (error) {
    await dynamo.stop();
    throw error;
  }
  const stopStores = () => Promise.all([dynamo.stop(), sqs?.stop()]);
  const server = createServer();
  let port: number;
  try {
    port = await listen(server, opts.port, opts.host);
  } catch (error) {
    await stopStores();
    throw error;
  }
  const origin = `${opts.host}:${port}`;
  const managementEndpoint = `http://${origin}/${opts.stage}`;

  let built: BuiltFunction[];
  try {
    built = await buildBundles({ template: opts.template, outdir });
  } catch (error) {
    server.close();
    await stopStores();
    throw error;
  }
  const env = {
    AWS_REGION: opts.region,
    AWS_DEFAULT_REGION: opts.region,
    AWS_ACCESS_KEY_ID: localCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: localCredentials.secretAccessKey,
    AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: managementEndpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    ...(sqs ? { AWS_ENDPOINT_URL_SQS: sqs.endpoint } : {}),
  };
  // Workers are frozen between invocations and cannot notice this process dying: the guard's
  // watchdog kills them if it ends without stop() (a crash, SIGKILL).
  const guard = startWorkerGuard({ log });
  const pools = new Map<string, FunctionPool>();
  for (const b of built) {
    const fn = model.functions.get(b.logicalId)!;
    pools.set(b.logicalId, new FunctionPool({ fn, codeFile: b.outfile, env, ledger, log, guard, maxInstances: opts.maxInstances }));
  }
  const routes = new Map([...model.routes].map(([key, id]) => [key, pools.get(id)!]));

  // The SQS event source mappings: pollers that invoke the functions, as Lambda does.
  const eventSources: SqsEventSource[] = [];
  for (const fn of model.functions.values()) {
    for (const source of fn.spec.sqsEvents) {
      const queue = sqs?.queues.get(source.queue);
      const pool = pools.get(fn.logicalId);
      if (!source.enabled || !queue || !pool || !sqs) continue;
      eventSources.push(new SqsEventSource({
        name: `${fn.logicalId}/${source.name}`, queueUrl: queue.url, queueArn: queue.arn, client: sqs.client(), pool,
        batchSize: source.batchSize, batchingWindowMs: source.batchingWindowSeconds * 1000,
        reportBatchItemFailures: source.reportBatchItemFailures,
        concurrency: Math.min(source.maximumConcurrency ?? opts.maxInstances, opts.maxInstances),
        region: opts.region, log,
        onBatch: (report: BatchReport) => events.emit('event-source', report),
      }));
    }
  }
  for (const source of eventSources) source.start();

  const management = createManagementApi({
    stage: opts.stage, registry, ledger, log, maxPayloadBytes: opts.maxMessageBytes,
    onLateSend: (late) => {
      lateSends.push(late);
      events.emit('late-send', late);
    },
    onDelivery: (delivery) => events.emit('delivery', delivery),
  });
  const wsApi = createWebSocketApi({
    api: { apiId: opts.apiId, stage: opts.stage, domainName: origin },
    routeSelectionExpression: model.routeSelectionExpression,
    routes, registry, log,
    maxMessageBytes: opts.maxMessageBytes, maxFrameBytes: opts.maxFrameBytes,
    idleTimeoutMs: opts.idleTimeoutMs, maxDurationMs: opts.maxDurationMs, runDisconnect: opts.runDisconnect,
    onInvocation: (report: InvocationReport) => events.emit('invocation', report),
  });

  server.on('request', (req, res) => {
    const handle = isManagementPath(req.url) ? management(req, res) : serveDemo(req, res);
    handle.catch((error: Error) => {
      log.error(`${req.method} ${req.url}: ${error.stack ?? error.message}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'Internal error in the local gateway' }));
    });
  });
  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://local').pathname;
    // Clients connect to the stage URL on AWS; `/` is accepted too for convenience.
    if (path !== '/' && path !== `/${opts.stage}` && path !== `/${opts.stage}/`) {
      socket.end(`HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      return;
    }
    wsApi.handleUpgrade(req, socket, head).catch((error: Error) => {
      log.error(`upgrade: ${error.stack ?? error.message}`);
      socket.destroy();
    });
  });

  let stopped: Promise<void> | undefined;
  return {
    wsUrl: `ws://${origin}`,
    managementEndpoint,
    dynamodbEndpoint: dynamo.endpoint,
    sqsEndpoint: sqs?.endpoint,
    queues: sqs?.queues ?? new Map(),
    tableName: model.tables[0]?.tableName,
    port,
    model,
    get built() {
      return built;
    },
    lateSends,
    events,
    async rebuild() {
      built = await buildBundles({ template: opts.template, outdir });
      for (const b of built) pools.get(b.logicalId)?.reload(b.outfile);
      return built;
    },
    stop() {
      stopped ??= (async () => {
        // Pollers first (no new invocations), then the pools: stopping them ends running
        // invocations, so closing never waits on a slow handler.
        const polling = Promise.all(eventSources.map((source) => source.stop()));
        await Promise.all([wsApi.stop(), ...[...pools.values()].map((p) => p.stop())]);
        await polling;
        await guard.stop();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await stopStores();
      })();
      return stopped;
    },
  };
};
