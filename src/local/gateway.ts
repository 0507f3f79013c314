// The local gateway: one loopback HTTP server that is the WebSocket API, the @connections
// management API and the demo page; an embedded DynamoDB with the template's tables; and a pool of
// local Lambda instances per function, running the bundles with the template's environment.
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadAppModel, type AppModel } from './app-model.ts';
import { createAuthorizer } from './authorizer.ts';
import { createDevIssuer, type DevIssuer } from './dev-issuer.ts';
import { loadTemplate } from './template.ts';
import { devIssuerOf } from './template-auth.ts';
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
  /** Template parameter overrides (like `sam --parameter-overrides`); they win over the dev issuer's. */
  parameters?: Record<string, string>;
  /**
   * Serve the development OIDC issuer (dev-issuer.ts) when the template asks for it
   * (Metadata.WsOutboxLocal.DevIssuer), and point the parameters it names at it.
   */
  devIssuer: boolean;
  /** The `aud` of the dev issuer's tokens (and the audience parameter's local value). */
  devAudience: string;
}

export const gatewayDefaults: GatewayOptions = {
  template: 'template.yaml',
  host: '127.0.0.1',
  port: 3001,
  dynamodbPort: 8000,
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
  devIssuer: true,
  devAudience: 'ws-outbox-local',
};

export interface Gateway {
  wsUrl: string;
  /** What handlers get as AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI (includes the stage). */
  managementEndpoint: string;
  dynamodbEndpoint: string;
  /** The first table of the template (the connection table), by its local name. */
  tableName: string | undefined;
  port: number;
  model: AppModel;
  built: BuiltFunction[];
  /** Every LATE SEND so far, oldest first. */
  lateSends: LateSend[];
  /** 'invocation' (InvocationReport), 'delivery' (Delivery) and 'late-send' (LateSend). */
  events: EventEmitter;
  /** The development issuer, when the template uses it: `url`, `audience`, `mint({ name })`. */
  devIssuer: DevIssuer | undefined;
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
  const log = opts.logger ?? createLogger({ quiet: opts.quiet });
  // The template is checked before any port opens; the model is resolved once the port (and so
  // the dev issuer's URL, which parameters may point at) is known.
  const devSpec = opts.devIssuer ? devIssuerOf(loadTemplate(opts.template)) : undefined;
  loadAppModel(opts.template, { region: opts.region, apiId: opts.apiId, stage: opts.stage, parameters: opts.parameters });
  const { outdir } = opts;
  const events = new EventEmitter();
  const lateSends: LateSend[] = [];
  const ledger = new InvocationLedger();
  const registry = new ConnectionRegistry();

  const server = createServer();
  const port = await listen(server, opts.port, opts.host);
  const origin = `${opts.host}:${port}`;
  const managementEndpoint = `http://${origin}/${opts.stage}`;
  let devIssuer: DevIssuer | undefined;
  let model: AppModel;
  let dynamo: LocalDynamo;
  try {
    devIssuer = devSpec && await createDevIssuer({ url: `http://${origin}`, audience: opts.devAudience });
    const devParameters: Record<string, string> = devSpec === undefined ? {} : {
      [devSpec.issuerParameter]: devIssuer!.url,
      ...(devSpec.audienceParameter === undefined ? {} : { [devSpec.audienceParameter]: devIssuer!.audience }),
    };
    model = loadAppModel(opts.template, { region: opts.region, apiId: opts.apiId, stage: opts.stage, parameters: { ...devParameters, ...opts.parameters } });
    dynamo = await startDynamo({ host: opts.host, port: opts.dynamodbPort, tables: model.tables, region: opts.region });
  } catch (error) {
    server.close();
    throw error;
  }

  let built: BuiltFunction[];
  try {
    built = await buildBundles({ template: opts.template, outdir });
  } catch (error) {
    server.close();
    await dynamo.stop();
    throw error;
  }
  const env = {
    AWS_REGION: opts.region,
    AWS_DEFAULT_REGION: opts.region,
    AWS_ACCESS_KEY_ID: localCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: localCredentials.secretAccessKey,
    AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: managementEndpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
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
  let authorize: ReturnType<typeof createAuthorizer> | undefined;
  if (model.authorizer?.kind === 'iam') {
    log.warn('The WebSocket API uses AWS_IAM authorization, which the local gateway does not emulate: connections are not authorized locally.');
  } else if (model.authorizer?.kind === 'lambda') {
    const pool = pools.get(model.authorizer.functionId);
    if (pool === undefined) {
      await Promise.all([...pools.values()].map((p) => p.stop()));
      await guard.stop();
      server.close();
      await dynamo.stop();
      throw new Error(`The $connect authorizer's function ${model.authorizer.functionId} is not an AWS::Serverless::Function the gateway can build and run`);
    }
    authorize = createAuthorizer({
      pool, identitySources: model.authorizer.identitySources, name: model.authorizer.name, log,
      region: opts.region, accountId: '123456789012', stageVariables: model.stageVariables,
      onInvocation: (report) => events.emit('invocation', report),
    });
  }

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
    authorize,
  });

  server.on('request', (req, res) => {
    const path = new URL(req.url ?? '/', 'http://local').pathname;
    const handle = isManagementPath(req.url) ? management(req, res)
      : devIssuer?.serves(path) ? devIssuer.handle(req, res)
      : serveDemo(req, res);
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
    tableName: model.tables[0]?.tableName,
    port,
    model,
    get built() {
      return built;
    },
    lateSends,
    events,
    devIssuer,
    async rebuild() {
      built = await buildBundles({ template: opts.template, outdir });
      for (const b of built) pools.get(b.logicalId)?.reload(b.outfile);
      return built;
    },
    stop() {
      stopped ??= (async () => {
        // Stopping the pools ends running invocations, so closing never waits on a slow handler.
        await Promise.all([wsApi.stop(), ...[...pools.values()].map((p) => p.stop())]);
        await guard.stop();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await dynamo.stop();
      })();
      return stopped;
    },
  };
};
