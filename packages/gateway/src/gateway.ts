// The local gateway, composed of services (services/, one lifecycle each: start, hosts, reload,
// stop): one loopback HTTP server that is the WebSocket API, the @connections management API and,
// when asked, a static folder; an embedded DynamoDB with the template's tables behind an IAM
// check; an embedded SQS with the template's queues, behind the same check, and pollers playing
// the functions' SQS event source mappings; Lambda's Invoke API on the template's functions,
// behind the same check; a TLS front for the AWS host names the functions call;
// and a pool of local Lambda instances per function, running the bundles with the template's
// environment, each instance with its own credentials and, where cgroups allow, Lambda's CPU and
// memory for its MemorySize.
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { partition } from '@aws-sdk/core/client';
import { checkOptions, withDefaults, type Schema } from 'ws-outbox/util';
import { loadAppModel, queueRefFor, type AppModel, type ModelOptions } from './app-model.ts';
import type { BuiltFunction } from './bundles.ts';
import type { Limits } from './cgroups.ts';
import { ConnectionRegistry } from './connections.ts';
import { createDevIssuer, type DevIssuer } from './dev-issuer.ts';
import type { BatchReport } from './event-sources.ts';
import { Identities } from './iam/identities.ts';
import { InvocationLedger, type LateSend } from './invocations.ts';
import { createLogger, type Logger } from './log.ts';
import { createManagementApi } from './management-api.ts';
import type { LocalQueue } from './sqs.ts';
import { defaultTemplateFile, loadTemplate } from './template.ts';
import { createHostCheck } from './host-check.ts';
import { devIssuerOf } from './template-auth.ts';
import type { InvocationReport } from './websocket-api.ts';
import { startDynamoService } from './services/dynamodb.ts';
import { startEntry } from './services/entry.ts';
import { createEventSources } from './services/event-sources.ts';
import { createIam } from './services/iam.ts';
import { startLambda } from './services/lambda.ts';
import { startLambdaApi } from './services/lambda-api.ts';
import { ServiceSet } from './services/service.ts';
import { startSqsService } from './services/sqs.ts';
import { startTlsFront } from './services/tls-front.ts';
import { apiHostHandler, startWebSocketApi } from './services/websocket-api.ts';

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
  /** Lambda's Invoke API for outside callers (functions reach it at Lambda's AWS host). 0 picks a free port (the default). */
  lambdaPort: number;
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
  /** Host names answered besides loopback, the emulated AWS hosts and `host` (host-check.ts: DNS rebinding; `--allowed-host`). */
  allowedHosts?: string[];
}

export const gatewayDefaults: GatewayOptions = {
  template: 'template.yaml',
  host: '127.0.0.1',
  port: 3001,
  dynamodbPort: 8000,
  sqsPort: 9324,
  lambdaPort: 0,
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

const port = { type: 'number', integer: true } as const;
const positive = { type: 'number', min: 1 } as const;
const text = { type: 'string' } as const;
const flag = { type: 'boolean' } as const;

/** What startGateway() takes, checked before anything starts. */
export const gatewayOptionsSchema = {
  template: text,
  host: text,
  port,
  dynamodbPort: port,
  stage: text,
  sqsPort: port,
  lambdaPort: port,
  region: text,
  accountId: text,
  apiId: text,
  outdir: text,
  idleTimeoutMs: positive,
  maxDurationMs: positive,
  maxMessageBytes: positive,
  maxFrameBytes: positive,
  maxBufferedBytes: positive,
  runDisconnect: flag,
  maxInstances: { type: 'number', min: 1, integer: true },
  iam: flag,
  limits: flag,
  cgroupRoot: text,
  startupHoldMs: { type: 'number' },
  quiet: flag,
  logger: { type: 'object' },
  parameters: { type: 'object' },
  devIssuer: flag,
  devAudience: text,
  staticDir: text,
  // An array of names, checked by createHostCheck.
  allowedHosts: { type: 'any' },
} satisfies Schema;

/** What a template edit changed, applied without a restart. */
export interface ReloadResult {
  changes: string[];
}

/** A template edit the running gateway cannot take (a new stage, other tables): restart it. */
export { RestartRequired } from './errors.ts';

export interface Gateway {
  wsUrl: string;
  /** The @connections endpoint on the gateway's port (http, with the stage). */
  managementEndpoint: string;
  /** The endpoint functions reach unmodified: https://<apiId>.execute-api.<region>.amazonaws.com/<stage>. */
  awsManagementEndpoint: string;
  dynamodbEndpoint: string;
  /** The embedded SQS, when the template has queues. */
  sqsEndpoint: string | undefined;
  /** Lambda's Invoke API on the template's functions (http, any SigV4 keys). */
  lambdaEndpoint: string;
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
    if (JSON.stringify(old.spec.policies) !== JSON.stringify(fn.spec.policies) || JSON.stringify(old.spec.role) !== JSON.stringify(fn.spec.role))
      changes.push(`${id} policies`);
    if (old.timeoutSeconds !== fn.timeoutSeconds || old.memoryMb !== fn.memoryMb || old.handler !== fn.handler) changes.push(`${id} settings`);
    if (old.spec.inlineCode !== fn.spec.inlineCode) changes.push(`${id} InlineCode`);
  }
  if (before.routeSelectionExpression !== after.routeSelectionExpression) changes.push(`route selection ${after.routeSelectionExpression}`);
  return changes;
};

export const startGateway = async (options: Partial<GatewayOptions> = {}): Promise<Gateway> => {
  // No template named: the one SAM CLI would read in the working folder (template.yaml, .yml or .json).
  const opts = withDefaults({ ...gatewayDefaults, template: defaultTemplateFile() }, options);
  checkOptions('startGateway', gatewayOptionsSchema, opts);
  // Callers that put DynamoDB on a free port (tests) get SQS on one too, unless they say otherwise.
  if (options.sqsPort === undefined && options.dynamodbPort === 0) opts.sqsPort = 0;
  const log = opts.logger ?? createLogger({ quiet: opts.quiet });
  // The template is checked before any port opens; the model is resolved again once the port (and
  // so the dev issuer's URL, which parameters may point at) and the queues' URLs are known.
  const devSpec = opts.devIssuer ? devIssuerOf(loadTemplate(opts.template)) : undefined;
  const modelOptions: ModelOptions = {
    region: opts.region,
    accountId: opts.accountId,
    apiId: opts.apiId,
    stage: opts.stage,
    parameters: opts.parameters ?? {},
  };
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
  const lambdaHost = `lambda.${opts.region}.${dnsSuffix}`;

  // Host names the plain ports answer (host-check.ts: DNS rebinding).
  if (opts.allowedHosts !== undefined && !Array.isArray(opts.allowedHosts)) throw new TypeError('startGateway allowedHosts must be an array of host names');
  const hostCheck = createHostCheck([apiHost, dynamodbHost, sqsHost, lambdaHost, opts.host, ...(opts.allowedHosts ?? [])]);

  const services = new ServiceSet(log);
  const entry = await services.start(startEntry({ host: opts.host, port: opts.port, holdMs: opts.startupHoldMs, hostCheck }));
  const origin = `${opts.host}:${entry.port}`;
  try {
    const ownOutdir = opts.outdir === undefined ? mkdtempSync(join(tmpdir(), 'ws-outbox-gateway-')) : undefined;
    const scratch = ownOutdir ?? mkdtempSync(join(tmpdir(), 'ws-outbox-ca-'));
    services.onStop('temporary folder', () => rmSync(scratch, { recursive: true, force: true }));
    const outdir = opts.outdir ?? join(ownOutdir!, 'functions');

    const devIssuer = devSpec && (await createDevIssuer({ url: `http://${origin}`, audience: opts.devAudience }));
    modelOptions.parameters = {
      ...(devSpec === undefined ? {} : { [devSpec.issuerParameter]: devIssuer!.url }),
      ...(devSpec?.audienceParameter === undefined ? {} : { [devSpec.audienceParameter]: devIssuer!.audience }),
      ...opts.parameters,
    };
    const iam = await services.start(Promise.resolve(createIam({ enabled: opts.iam, identities, accountId: opts.accountId, ledger, log })));
    const common = { host: opts.host, region: opts.region, accountId: opts.accountId, iam: iam.check, log, hostCheck };
    const sqs = model.queues.length > 0 ? await services.start(startSqsService({ ...common, model, port: opts.sqsPort, awsHost: sqsHost })) : undefined;
    // Functions see the queues as in AWS (`!Ref Queue` is https://sqs.<region>.amazonaws.com/<account>/<name>,
    // `!GetAtt Queue.Arn` names the account): the egress hook brings that host to the SQS front.
    if (sqs) modelOptions.queues = new Map([...sqs.sqs.queues].map(([id, q]) => [id, queueRefFor(q.name, opts.region, opts.accountId)]));
    model = loadAppModel(opts.template, modelOptions);
    iam.load(model);
    const dynamo = await services.start(startDynamoService({ ...common, model, port: opts.dynamodbPort, awsHost: dynamodbHost }));

    const management = createManagementApi({
      stage,
      registry,
      ledger,
      log,
      maxPayloadBytes: opts.maxMessageBytes,
      maxBufferedBytes: opts.maxBufferedBytes,
      iam: iam.check,
      region: opts.region,
      accountId: opts.accountId,
      apiId: opts.apiId,
      onLateSend: (late) => {
        lateSends.push(late);
        events.emit('late-send', late);
      },
      onDelivery: (delivery) => events.emit('delivery', delivery),
    });
    const apiHosts = {
      name: 'execute-api',
      hosts: [{ host: apiHost, handler: apiHostHandler(management, log, apiHost), plainPort: entry.port }],
      stop: async () => {},
    };
    await services.start(Promise.resolve(apiHosts));
    const lambdaApi = await services.start(
      startLambdaApi({
        ...common,
        port: opts.lambdaPort,
        awsHost: lambdaHost,
        identities,
        ledger,
        onInvocation: (report: InvocationReport) => events.emit('invocation', report),
      }),
    );
    const tls = await services.start(startTlsFront({ hosts: services.hosts(), folder: scratch, log }));

    const lambda = await services.start(
      startLambda({
        model,
        template: opts.template,
        outdir,
        region: opts.region,
        caFile: tls.caFile,
        egress: tls.egress,
        useLimits: opts.limits,
        cgroupRoot: opts.cgroupRoot,
        maxInstances: opts.maxInstances,
        ledger,
        identities,
        log,
        onEgressRefused: (refusal) => {
          const route = refusal.requestId ? ledger.get(refusal.requestId)?.route : undefined;
          events.emit('egress-refused', refusal);
          log.loud([
            `REFUSED: ${refusal.functionName} (route ${route ?? '-'}) tried to reach ${refusal.host}:${refusal.port}.`,
            `Locally only this app's execute-api (${apiHost}), DynamoDB (${dynamodbHost}), Lambda (${lambdaHost})${sqs ? ` and SQS (${sqsHost})` : ''} are served;`,
            'in AWS this call would reach the real service. It failed here with ECONNREFUSED.',
          ]);
        },
      }),
    );
    lambdaApi.attach(lambda.pools, model);
    const eventSources = await services.start(
      Promise.resolve(
        createEventSources({
          model,
          sqs: sqs?.sqs,
          pools: lambda.pools,
          maxInstances: opts.maxInstances,
          region: opts.region,
          log,
          queueArns: new Map([...(modelOptions.queues ?? [])].map(([id, ref]) => [id, ref.arn])),
          onBatch: (report: BatchReport) => events.emit('event-source', report),
        }),
      ),
    );
    await services.start(
      startWebSocketApi({
        model,
        entry,
        pools: lambda.pools,
        registry,
        log,
        region: opts.region,
        accountId: opts.accountId,
        api: { apiId: opts.apiId, domainName: apiHost },
        limits: {
          maxMessageBytes: opts.maxMessageBytes,
          maxFrameBytes: opts.maxFrameBytes,
          idleTimeoutMs: opts.idleTimeoutMs,
          maxDurationMs: opts.maxDurationMs,
          runDisconnect: opts.runDisconnect,
        },
        management,
        devIssuer,
        staticDir: opts.staticDir,
        stopAlongside: [() => eventSources.stop(), () => lambda.stop()],
        sqs: sqs?.sqs,
        dynamodb: { endpoint: dynamo.endpoint, iam: opts.iam },
        onInvocation: (report: InvocationReport) => events.emit('invocation', report),
      }),
    );
    eventSources.start();

    return {
      wsUrl: `ws://${origin}`,
      managementEndpoint: `http://${origin}/${stage}`,
      awsManagementEndpoint: `https://${apiHost}/${stage}`,
      dynamodbEndpoint: dynamo.endpoint,
      sqsEndpoint: sqs?.endpoint,
      lambdaEndpoint: lambdaApi.endpoint,
      queues: sqs?.sqs.queues ?? new Map<string, LocalQueue>(),
      tableName: model.tables[0]?.tableName,
      port: entry.port,
      stage,
      get model() {
        return model;
      },
      get built() {
        return lambda.built;
      },
      lateSends,
      events,
      limits: lambda.limits,
      devIssuer,
      staticDir: opts.staticDir === undefined ? undefined : resolve(opts.staticDir),
      rebuild: () => lambda.rebuild(),
      async reload() {
        const next = loadAppModel(opts.template, modelOptions);
        await services.reload(next, model);
        const changes = describeChanges(model, next);
        model = next;
        return { changes };
      },
      stop: () => services.stop(),
    };
  } catch (error) {
    entry.fail(`start-up failed: ${(error as Error).message.split('\n')[0]}`);
    await services.stop();
    throw error;
  }
};
