// The local gateway: one loopback HTTP server that is the WebSocket API, the @connections
// management API and the demo page; an embedded DynamoDB with the template's tables behind an IAM
// check; an embedded SQS with the template's queues, behind the same check, and pollers playing
// the functions' SQS event source mappings; a TLS front for the AWS host names the functions call;
// and a pool of local Lambda instances per function, running the bundles with the template's
// environment, each instance with its own credentials and, where cgroups allow, Lambda's CPU and
// memory for its MemorySize.
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { partition } from '@aws-sdk/core/client';
import { loadAppModel, queueRefFor, type AppModel, type FunctionModel, type ModelOptions } from './app-model.ts';
import { createAuthorizer } from './authorizer.ts';
import { createDevIssuer, type DevIssuer } from './dev-issuer.ts';
import { loadTemplate } from './template.ts';
import { devIssuerOf } from './template-auth.ts';
import { startAwsFront, type AwsFront, type HostHandler } from './aws-front.ts';
import { SqsEventSource, type BatchReport } from './event-sources.ts';
import { createSqsFront } from './sqs-front.ts';
import { startSqs, type LocalQueue, type LocalSqs } from './sqs.ts';
import { buildBundles, type BuiltFunction } from './bundles.ts';
import { startLimits, type Limits } from './cgroups.ts';
import { ConnectionRegistry } from './connections.ts';
import { createDynamoFront } from './dynamodb-front.ts';
import { startDynamo, type LocalDynamo } from './dynamodb.ts';
import type { EgressConfig } from './egress.ts';
import { FunctionPool } from './function-pool.ts';
import { createIamCheck } from './iam/check.ts';
import { Identities } from './iam/identities.ts';
import { functionPolicy, type FunctionPolicy } from './iam/policies.ts';
import { InvocationLedger, type LateSend } from './invocations.ts';
import { createLocalCa } from './local-ca.ts';
import { createLogger, type Logger } from './log.ts';
import { createManagementApi, isManagementPath } from './management-api.ts';
import { createStartupGate } from './startup-gate.ts';
import { createStaticHandler } from './static.ts';
import { WsOutboxError } from 'ws-outbox/util';
import { startWorkerGuard } from './worker-guard.ts';
import { egressVariable } from './worker-protocol.ts';
import { createWebSocketApi, refuseUpgrade, type InvocationReport } from './websocket-api.ts';

export interface GatewayOptions {
  /** The SAM template to serve. */
  template: string;
  host: string;
  /** WebSocket + management API (+ the static folder, if any). 0 picks a free port. */
  port: number;
  /** The embedded DynamoDB. 0 picks a free port. */
  dynamodbPort: number;
  /** The stage to serve; undefined: the template's literal StageName, else `local`. */
  stage?: string;
  /** The embedded SQS, when the template has queues. 0 picks a free port (the default when dynamodbPort is 0). */
  sqsPort: number;
  region: string;
  accountId: string;
  apiId: string;
  /** Where the bundles go: undefined → a temporary folder of this gateway's, removed at stop(). */
  outdir?: string;
  idleTimeoutMs: number;
  maxDurationMs: number;
  maxMessageBytes: number;
  maxFrameBytes: number;
  /** Over this many bytes waiting for a client that is not reading, @connections POSTs to it answer 429. */
  maxBufferedBytes: number;
  /** false: $disconnect never runs (API Gateway delivers it best effort); stale rows then rely on 410 pruning and TTL. */
  runDisconnect: boolean;
  /** Concurrent instances per function; more invocations queue. */
  maxInstances: number;
  /** Check every DynamoDB and @connections call of a function against its template policies (`--no-iam`: false). */
  iam: boolean;
  /** CPU and memory per instance as Lambda sizes them, where cgroups can be written (`--no-limits`: false). */
  limits: boolean;
  /** The cgroup mount, for tests. */
  cgroupRoot?: string;
  /** How long a client that connects during start-up is held before a 503. */
  startupHoldMs: number;
  quiet: boolean;
  logger?: Logger;
  /** Template parameter overrides (`--parameter-overrides`); they win over the dev issuer's. */
  parameters?: Record<string, string>;
  /**
   * Serve the development OIDC issuer (dev-issuer.ts) when the template asks for it
   * (Metadata.WsOutboxLocal.DevIssuer), and point the parameters it names at it.
   */
  devIssuer: boolean;
  /** The `aud` of the dev issuer's tokens (and the audience parameter's local value). */
  devAudience: string;
  /** A folder served at `/` on the WebSocket API's port (an app's demo page); undefined: none. */
  staticDir?: string;
}

export const gatewayDefaults: GatewayOptions = {
  template: 'template.yaml',
  host: '127.0.0.1',
  port: 3001,
  dynamodbPort: 8000,
  sqsPort: 9324,
  region: 'us-east-1',
  accountId: '123456789012',
  apiId: 'localapi01',
  idleTimeoutMs: 10 * 60 * 1000,
  maxDurationMs: 2 * 60 * 60 * 1000,
  maxMessageBytes: 128 * 1024,
  maxFrameBytes: 32 * 1024,
  maxBufferedBytes: 1024 * 1024,
  maxInstances: 10,
  runDisconnect: true,
  iam: true,
  limits: true,
  startupHoldMs: 60_000,
  quiet: false,
  devIssuer: true,
  devAudience: 'ws-outbox-local',
};

/** What a template edit changed, applied without a restart. */
export interface ReloadResult {
  changes: string[];
}

/** A template edit the running gateway cannot take (a new stage, other tables): restart it. */
export class RestartRequired extends WsOutboxError {
  constructor(message: string) {
    super('RESTART_REQUIRED', message);
  }
}

export interface Gateway {
  wsUrl: string;
  /** The @connections endpoint on the gateway's port (http, with the stage). */
  managementEndpoint: string;
  /** The endpoint functions reach unmodified: https://<apiId>.execute-api.<region>.amazonaws.com/<stage>. */
  awsManagementEndpoint: string;
  dynamodbEndpoint: string;
  /** The embedded SQS, when the template has queues. */
  sqsEndpoint: string | undefined;
  /** The template's queues by logical id, as the embedded SQS named them. */
  queues: Map<string, LocalQueue>;
  /** The first table of the template (the connection table), by its local name. */
  tableName: string | undefined;
  port: number;
  stage: string;
  model: AppModel;
  built: BuiltFunction[];
  /** Every LATE SEND so far, oldest first. */
  lateSends: LateSend[];
  /**
   * 'invocation' (InvocationReport), 'delivery' (Delivery), 'late-send' (LateSend), 'egress-refused',
   * 'event-source' (BatchReport: a batch of SQS records a function handled).
   */
  events: EventEmitter;
  /** CPU and memory limits in force (undefined: off, or cgroups unavailable). */
  limits: Limits | undefined;
  /** The development issuer, when the template uses it: `url`, `audience`, `mint({ name })`. */
  devIssuer: DevIssuer | undefined;
  /** The folder served at `/` (absolute), when asked for. */
  staticDir: string | undefined;
  /** Rebuilds the bundles; new invocations run the new code on fresh instances. */
  rebuild(): Promise<BuiltFunction[]>;
  /** Reads the template again and applies it (routes, functions, environment, policies); RestartRequired when it cannot. */
  reload(): Promise<ReloadResult>;
  stop(): Promise<void>;
}

const listen = (server: Server, port: number, host: string, what: string): Promise<number> => new Promise((resolve, reject) => {
  server.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'EADDRINUSE'
    ? new Error(`Port ${port} is in use: set ${what} to a free port`)
    : error));
  server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
});

const closeServer = (server: Server) => new Promise<void>((resolve) => {
  if (!server.listening) return resolve();
  server.close(() => resolve());
  server.closeAllConnections();
});

const serviceUnavailable = (res: ServerResponse, why: string) => {
  if (res.headersSent) return res.end();
  const body = JSON.stringify({ message: `Service Unavailable: ${why}` });
  res.writeHead(503, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'retry-after': '1' }).end(body);
};

/** What changed between two models, for the reload's log line. */
const describeChanges = (before: AppModel, after: AppModel): string[] => {
  const changes: string[] = [];
  const keys = (m: Map<string, unknown>) => new Set(m.keys());
  for (const route of keys(after.routes)) if (!before.routes.has(route)) changes.push(`route ${route} → ${after.routes.get(route)} added`);
  for (const route of keys(before.routes)) if (!after.routes.has(route)) changes.push(`route ${route} removed`);
  for (const [route, fn] of after.routes) if (before.routes.has(route) && before.routes.get(route) !== fn) changes.push(`route ${route} now → ${fn}`);
  for (const id of keys(after.functions)) if (!before.functions.has(id)) changes.push(`function ${id} added`);
  for (const id of keys(before.functions)) if (!after.functions.has(id)) changes.push(`function ${id} removed`);
  for (const [id, fn] of after.functions) {
    const old = before.functions.get(id);
    if (!old) continue;
    if (JSON.stringify(old.environment) !== JSON.stringify(fn.environment)) changes.push(`${id} environment`);
    if (JSON.stringify(old.spec.policies) !== JSON.stringify(fn.spec.policies) || JSON.stringify(old.spec.role) !== JSON.stringify(fn.spec.role)) changes.push(`${id} policies`);
    if (old.timeoutSeconds !== fn.timeoutSeconds || old.memoryMb !== fn.memoryMb || old.handler !== fn.handler) changes.push(`${id} settings`);
  }
  if (before.routeSelectionExpression !== after.routeSelectionExpression) changes.push(`route selection ${after.routeSelectionExpression}`);
  return changes;
};

export const startGateway = async (options: Partial<GatewayOptions> = {}): Promise<Gateway> => {
  const opts = { ...gatewayDefaults, ...options };
  // Callers that put DynamoDB on a free port (tests) get SQS on one too, unless they say otherwise.
  if (options.sqsPort === undefined && options.dynamodbPort === 0) opts.sqsPort = 0;
  const log = opts.logger ?? createLogger({ quiet: opts.quiet });
  // The template is checked before any port opens; the model is resolved again once the port (and
  // so the dev issuer's URL, which parameters may point at) is known.
  const devSpec = opts.devIssuer ? devIssuerOf(loadTemplate(opts.template)) : undefined;
  const modelOptions: ModelOptions = { region: opts.region, accountId: opts.accountId, apiId: opts.apiId, stage: opts.stage, parameters: opts.parameters ?? {} };
  let model = loadAppModel(opts.template, modelOptions);
  const { stage } = model;
  const events = new EventEmitter();
  const lateSends: LateSend[] = [];
  const ledger = new InvocationLedger();
  const registry = new ConnectionRegistry();
  const identities = new Identities();
  const dnsSuffix = partition(opts.region).dnsSuffix;
  const apiHost = `${opts.apiId}.execute-api.${opts.region}.${dnsSuffix}`;
  const dynamodbHost = `dynamodb.${opts.region}.${dnsSuffix}`;
  const sqsHost = `sqs.${opts.region}.${dnsSuffix}`;

  // Listen first, so a client that connects during the build is held (then served, or told 503)
  // rather than refused or left hanging.
  const gate = createStartupGate(opts.startupHoldMs);
  const server = createServer();
  let handleRequest: (req: IncomingMessage, res: ServerResponse) => void = () => {};
  let handleUpgrade: (req: IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => void = () => {};
  server.on('request', (req, res) => gate.hold(() => handleRequest(req, res), (why) => {
    req.resume();
    serviceUnavailable(res, why);
  }));
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    gate.hold(() => handleUpgrade(req, socket, head), (why) => refuseUpgrade(socket, 503, JSON.stringify({ message: `Service Unavailable: ${why}` }), { 'Retry-After': '1' }));
  });
  const port = await listen(server, opts.port, opts.host, 'PORT');
  const origin = `${opts.host}:${port}`;

  // Everything below is undone, in reverse, if start-up fails.
  const undo: Array<() => Promise<void> | void> = [() => closeServer(server)];
  const ownOutdir = opts.outdir === undefined ? mkdtempSync(join(tmpdir(), 'ws-outbox-gateway-')) : undefined;
  if (ownOutdir) undo.push(() => rmSync(ownOutdir, { recursive: true, force: true }));
  const outdir = opts.outdir ?? join(ownOutdir!, 'functions');
  let devIssuer: DevIssuer | undefined;
  try {
    devIssuer = devSpec && await createDevIssuer({ url: `http://${origin}`, audience: opts.devAudience });
    const devParameters: Record<string, string> = devSpec === undefined ? {} : {
      [devSpec.issuerParameter]: devIssuer!.url,
      ...(devSpec.audienceParameter === undefined ? {} : { [devSpec.audienceParameter]: devIssuer!.audience }),
    };
    modelOptions.parameters = { ...devParameters, ...opts.parameters };
    let sqs: LocalSqs | undefined;
    if (model.queues.length > 0) {
      sqs = await startSqs({ host: '127.0.0.1', port: 0, queues: model.queues, region: opts.region });
      undo.push(() => sqs!.stop());
      // Functions see the queues as in AWS (`!Ref Queue` is https://sqs.<region>.amazonaws.com/<account>/<name>,
      // `!GetAtt Queue.Arn` names the account): the egress hook brings that host to the SQS front.
      modelOptions.queues = new Map([...sqs.queues].map(([id, q]) => [id, queueRefFor(q.name, opts.region, opts.accountId)]));
    }
    model = loadAppModel(opts.template, modelOptions);
    // Policies per function, resolved; warnings for what cannot be checked, once per template load.
    let policies = new Map<string, FunctionPolicy>();
    const loadPolicies = (m: AppModel) => {
      policies = new Map([...m.functions.values()].map((fn) => [fn.logicalId, functionPolicy(fn, m.template, m.refs)]));
      if (!opts.iam) return;
      for (const [id, p] of policies) for (const line of p.unknown) log.warn(`IAM: ${id}: ${line}`);
    };
    loadPolicies(model);
    const iam = createIamCheck({
      enabled: opts.iam, identities, policyOf: (id) => policies.get(id), accountId: opts.accountId, ledger, log,
    });

    const dynamo: LocalDynamo = await startDynamo({ host: '127.0.0.1', port: 0, tables: model.tables, region: opts.region });
    undo.push(() => dynamo.stop());
    const dynamoFront = createDynamoFront({ upstream: dynamo.endpoint, iam, region: opts.region, accountId: opts.accountId });
    const dynamoServer = createServer((req, res) => {
      dynamoFront.handle(req, res).catch((error: Error) => {
        log.error(`DynamoDB front: ${error.stack ?? error.message}`);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    const dynamodbPort = await listen(dynamoServer, opts.dynamodbPort, opts.host, 'DYNAMODB_PORT')
      .catch((error: Error) => { throw new Error(error.message.replace('Port', 'DynamoDB port')); });
    undo.push(async () => {
      await closeServer(dynamoServer);
      dynamoFront.close();
    });
    const dynamodbEndpoint = `http://${opts.host}:${dynamodbPort}`;

    // SQS: the IAM check in front of the embedded server, on its own port (SQS_PORT) for plain
    // calls, and behind the TLS front for the functions' https ones.
    let sqsFront: ReturnType<typeof createSqsFront> | undefined;
    let sqsPort: number | undefined;
    if (sqs) {
      const front = createSqsFront({ upstream: sqs.endpoint, iam, region: opts.region, accountId: opts.accountId });
      sqsFront = front;
      const sqsServer = createServer((req, res) => {
        front.handle(req, res).catch((error: Error) => {
          log.error(`SQS front: ${error.stack ?? error.message}`);
          if (!res.headersSent) res.writeHead(500);
          res.end();
        });
      });
      sqsPort = await listen(sqsServer, opts.sqsPort, opts.host, 'SQS_PORT')
        .catch((error: Error) => { throw new Error(error.message.replace('Port', 'SQS port')); });
      undo.push(async () => {
        await closeServer(sqsServer);
        front.close();
      });
    }
    const sqsEndpoint = sqsPort === undefined ? undefined : `http://${opts.host}:${sqsPort}`;

    const serveStatic = createStaticHandler(opts.staticDir);
    const management = createManagementApi({
      stage, registry, ledger, log, maxPayloadBytes: opts.maxMessageBytes, maxBufferedBytes: opts.maxBufferedBytes,
      iam, region: opts.region, accountId: opts.accountId, apiId: opts.apiId,
      onLateSend: (late) => {
        lateSends.push(late);
        events.emit('late-send', late);
      },
      onDelivery: (delivery) => events.emit('delivery', delivery),
    });

    // The AWS host names the functions call, served over TLS with a CA only the workers trust.
    const ca = await createLocalCa([apiHost, dynamodbHost, ...(sqsFront ? [sqsHost] : [])]);
    const caFile = join(ownOutdir ?? mkdtempSync(join(tmpdir(), 'ws-outbox-ca-')), 'local-ca.pem');
    writeFileSync(caFile, ca.caPem);
    if (!ownOutdir) undo.push(() => rmSync(join(caFile, '..'), { recursive: true, force: true }));
    const front: AwsFront = await startAwsFront(ca, new Map<string, HostHandler>([
      [apiHost, async (req, res) => {
        if (isManagementPath(req.url)) return management(req, res);
        req.resume();
        res.writeHead(403, { 'content-type': 'application/json', 'x-amzn-ErrorType': 'ForbiddenException' }).end(JSON.stringify({ message: 'Forbidden' }));
      }],
      [dynamodbHost, dynamoFront.handle],
      ...(sqsFront ? [[sqsHost, sqsFront.handle] as [string, HostHandler]] : []),
    ]), (error, req) => log.error(`${req.headers.host} ${req.method} ${req.url}: ${error.stack ?? error.message}`));
    undo.push(() => front.close());
    const egress: EgressConfig = {
      routes: {
        [apiHost]: { tls: front.port, plain: port },
        [dynamodbHost]: { tls: front.port, plain: dynamodbPort },
        ...(sqsPort === undefined ? {} : { [sqsHost]: { tls: front.port, plain: sqsPort } }),
      },
    };

    let limits: Limits | undefined;
    if (opts.limits) {
      const result = startLimits({ root: opts.cgroupRoot });
      if (result.limits) {
        limits = result.limits;
        undo.push(() => limits!.stop().catch((error: Error) => log.warn(`cgroups not removed: ${error.message}`)));
      } else {
        log.warn(`CPU and memory limits are off: ${result.reason}. Functions run with the whole machine (--no-limits silences this).`);
      }
    }

    let built = await buildBundles({ template: opts.template, outdir });
    const env = {
      AWS_REGION: opts.region,
      AWS_DEFAULT_REGION: opts.region,
      AWS_SAM_LOCAL: 'true',
      NODE_EXTRA_CA_CERTS: caFile,
      [egressVariable]: JSON.stringify(egress),
    };
    // Workers are frozen between invocations and cannot notice this process dying: the guard's
    // watchdog kills them if it ends without stop() (a crash, SIGKILL), and removes the cgroups.
    const guard = startWorkerGuard({ log });
    undo.push(() => guard.stop());
    for (const root of limits?.roots ?? []) guard.cleanUp(root);
    const onEgressRefused = (refusal: { functionName: string; instance: number; host: string; port: number; requestId?: string }) => {
      const route = refusal.requestId ? ledger.get(refusal.requestId)?.route : undefined;
      events.emit('egress-refused', refusal);
      log.loud([
        `REFUSED: ${refusal.functionName} (route ${route ?? '-'}) tried to reach ${refusal.host}:${refusal.port}.`,
        `Locally only this app's execute-api (${apiHost}), DynamoDB (${dynamodbHost})${sqs ? ` and SQS (${sqsHost})` : ''} are served;`,
        'in AWS this call would reach the real service. It failed here with ECONNREFUSED.',
      ]);
    };
    const pools = new Map<string, FunctionPool>();
    const poolFor = (fn: FunctionModel, codeFile: string) => new FunctionPool({
      fn, codeFile, env, ledger, log, guard, identities, limits, onEgressRefused, maxInstances: opts.maxInstances,
    });
    for (const b of built) pools.set(b.logicalId, poolFor(model.functions.get(b.logicalId)!, b.outfile));
    undo.push(async () => {
      await Promise.all([...pools.values()].map((p) => p.stop()));
    });

    // The SQS event source mappings: pollers that invoke the functions, as Lambda does. They read
    // the embedded SQS directly (Lambda polls with its own service role, not the function's).
    const eventSources: SqsEventSource[] = [];
    for (const fn of model.functions.values()) {
      for (const source of fn.spec.sqsEvents) {
        const queue = sqs?.queues.get(source.queue);
        const pool = pools.get(fn.logicalId);
        if (!source.enabled || !queue || !pool || !sqs) continue;
        eventSources.push(new SqsEventSource({
          name: `${fn.logicalId}/${source.name}`, queueUrl: queue.url, queueArn: modelOptions.queues?.get(source.queue)?.arn ?? queue.arn,
          client: sqs.client(), pool,
          batchSize: source.batchSize, batchingWindowMs: source.batchingWindowSeconds * 1000,
          reportBatchItemFailures: source.reportBatchItemFailures,
          concurrency: Math.min(source.maximumConcurrency ?? opts.maxInstances, opts.maxInstances),
          region: opts.region, log,
          onBatch: (report: BatchReport) => events.emit('event-source', report),
        }));
      }
    }
    const stopPolling = () => Promise.all(eventSources.map((source) => source.stop()));
    undo.push(async () => {
      await stopPolling();
    });
    const routesOf = (m: AppModel) => new Map([...m.routes].map(([key, id]) => [key, pools.get(id)!]));
    let authorize: ReturnType<typeof createAuthorizer> | undefined;
    if (model.authorizer?.kind === 'iam') {
      log.warn('The WebSocket API uses AWS_IAM authorization, which the local gateway does not emulate: connections are not authorized locally.');
    } else if (model.authorizer?.kind === 'lambda') {
      const pool = pools.get(model.authorizer.functionId);
      if (pool === undefined) {
        throw new Error(`The $connect authorizer's function ${model.authorizer.functionId} is not an AWS::Serverless::Function the gateway can build and run`);
      }
      authorize = createAuthorizer({
        pool, identitySources: model.authorizer.identitySources, name: model.authorizer.name, log,
        region: opts.region, accountId: opts.accountId, stageVariables: model.stageVariables,
        onInvocation: (report) => events.emit('invocation', report),
      });
    }

    const wsApi = createWebSocketApi({
      api: { apiId: opts.apiId, stage, domainName: apiHost },
      routeSelectionExpression: model.routeSelectionExpression,
      routes: routesOf(model), registry, log,
      maxMessageBytes: opts.maxMessageBytes, maxFrameBytes: opts.maxFrameBytes,
      idleTimeoutMs: opts.idleTimeoutMs, maxDurationMs: opts.maxDurationMs, runDisconnect: opts.runDisconnect,
      onInvocation: (report: InvocationReport) => events.emit('invocation', report),
      authorize,
    });

    handleRequest = (req, res) => {
      const path = new URL(req.url ?? '/', 'http://local').pathname;
      const handle = isManagementPath(req.url) ? management(req, res)
        : devIssuer?.serves(path) ? devIssuer.handle(req, res)
        : serveStatic(req, res);
      handle.catch((error: Error) => {
        log.error(`${req.method} ${req.url}: ${error.stack ?? error.message}`);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'Internal error in the local gateway' }));
      });
    };
    handleUpgrade = (req, socket, head) => {
      const path = new URL(req.url ?? '/', 'http://local').pathname;
      // Clients connect to the stage URL on AWS; `/` is accepted too for convenience.
      if (path !== '/' && path !== `/${stage}` && path !== `/${stage}/`) {
        refuseUpgrade(socket, 404, JSON.stringify({ message: 'Not Found' }));
        return;
      }
      wsApi.handleUpgrade(req, socket, head).catch((error: Error) => {
        log.error(`upgrade: ${error.stack ?? error.message}`);
        refuseUpgrade(socket, 500, JSON.stringify({ message: 'Internal server error' }));
      });
    };
    gate.open();
    for (const source of eventSources) source.start();

    const reload = async (): Promise<ReloadResult> => {
      const next = loadAppModel(opts.template, modelOptions);
      if (next.stage !== model.stage) throw new RestartRequired(`the stage changed from ${model.stage} to ${next.stage}`);
      if (JSON.stringify(next.tables) !== JSON.stringify(model.tables)) throw new RestartRequired('the tables changed');
      if (JSON.stringify(next.authorizer) !== JSON.stringify(model.authorizer)) throw new RestartRequired('the $connect authorizer changed');
      if (JSON.stringify(next.queues) !== JSON.stringify(model.queues)) throw new RestartRequired('the queues changed');
      const sqsEventsOf = (m: AppModel) => JSON.stringify([...m.functions.values()].filter((fn) => fn.spec.sqsEvents.length > 0).map((fn) => [fn.logicalId, fn.spec.sqsEvents]));
      if (sqsEventsOf(next) !== sqsEventsOf(model)) throw new RestartRequired('the SQS event sources changed');
      const nextBuilt = await buildBundles({ template: opts.template, outdir });
      const changes = describeChanges(model, next);
      for (const b of nextBuilt) {
        const fn = next.functions.get(b.logicalId)!;
        const pool = pools.get(b.logicalId);
        if (pool) pool.reload(b.outfile, fn);
        else pools.set(b.logicalId, poolFor(fn, b.outfile));
      }
      const removed = [...pools.keys()].filter((id) => !next.functions.has(id));
      const retired = removed.map((id) => pools.get(id)!);
      for (const id of removed) pools.delete(id);
      wsApi.setRoutes(next.routeSelectionExpression, routesOf(next));
      loadPolicies(next);
      model = next;
      built = nextBuilt;
      // Removed functions: their running invocations end with the pool.
      await Promise.all(retired.map((p) => p.stop()));
      return { changes };
    };

    let stopped: Promise<void> | undefined;
    return {
      wsUrl: `ws://${origin}`,
      managementEndpoint: `http://${origin}/${stage}`,
      awsManagementEndpoint: `https://${apiHost}/${stage}`,
      dynamodbEndpoint,
      sqsEndpoint,
      queues: sqs?.queues ?? new Map<string, LocalQueue>(),
      tableName: model.tables[0]?.tableName,
      port,
      stage,
      get model() {
        return model;
      },
      get built() {
        return built;
      },
      lateSends,
      events,
      limits,
      devIssuer,
      staticDir: opts.staticDir === undefined ? undefined : resolve(opts.staticDir),
      async rebuild() {
        built = await buildBundles({ template: opts.template, outdir });
        for (const b of built) pools.get(b.logicalId)?.reload(b.outfile);
        return built;
      },
      reload,
      stop() {
        stopped ??= (async () => {
          // Pollers first (no new invocations), then the pools: stopping them ends running
          // invocations, so closing never waits on a slow handler.
          const polling = stopPolling();
          await Promise.all([wsApi.stop(), ...[...pools.values()].map((p) => p.stop())]);
          await polling;
          for (const step of undo.reverse()) await step();
        })();
        return stopped;
      },
    };
  } catch (error) {
    gate.fail(`start-up failed: ${(error as Error).message.split('\n')[0]}`);
    for (const step of undo.reverse()) await Promise.resolve(step()).catch(() => {});
    throw error;
  }
};
