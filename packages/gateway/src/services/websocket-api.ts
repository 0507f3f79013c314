// The WebSocket API: API Gateway's side of the sockets (route selection, the $connect authorizer,
// frame and message limits, idle and maximum durations) on the entry's port, plus what shares that
// port: the @connections API (also at the API's AWS host, for the functions), the development
// issuer and the static folder.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppModel } from '../app-model.ts';
import { createAuthorizer } from '../authorizer.ts';
import type { ConnectionRegistry } from '../connections.ts';
import type { DevIssuer } from '../dev-issuer.ts';
import type { FunctionPool } from '../function-pool.ts';
import type { Logger } from '../log.ts';
import { hostNameOf, isLoopbackName, refuseHost } from '../host-check.ts';
import { isManagementPath } from '../management-api.ts';
import { normalizeApiPath, watchApiRequest } from '../api-paths.ts';
import { routeTargetsFor } from '../route-targets.ts';
import type { LocalSqs } from '../sqs.ts';
import { createStaticHandler } from '../static.ts';
import { createWebSocketApi, refuseUpgrade, type InvocationReport } from '../websocket-api.ts';
import type { EntryService } from './entry.ts';
import type { GatewayService, HostHandler } from './service.ts';

/**
 * The API's AWS host answers the @connections paths (`//` collapsed, as API Gateway does);
 * anything else is API Gateway's 403. Every 403 is logged with why.
 */
export const apiHostHandler =
  (management: HostHandler, log?: Pick<Logger, 'warn'>, host = 'execute-api'): HostHandler =>
  async (req, res) => {
    if (log) watchApiRequest(req, res, log, host);
    if (isManagementPath(req.url)) return management(req, res);
    req.resume();
    res.writeHead(403, { 'content-type': 'application/json', 'x-amzn-ErrorType': 'ForbiddenException' }).end(JSON.stringify({ message: 'Forbidden' }));
  };

export interface WebSocketApiLimits {
  maxMessageBytes: number;
  maxFrameBytes: number;
  idleTimeoutMs: number;
  maxDurationMs: number;
  runDisconnect: boolean;
}

export const startWebSocketApi = async (options: {
  model: AppModel;
  entry: EntryService;
  pools: Map<string, FunctionPool>;
  registry: ConnectionRegistry;
  limits: WebSocketApiLimits;
  api: { apiId: string; domainName: string };
  region: string;
  accountId: string;
  management: HostHandler;
  devIssuer: DevIssuer | undefined;
  staticDir: string | undefined;
  log: Logger;
  /** Stopped together with the API: the pollers (no new invocations) and the pools (which ends running ones). */
  stopAlongside: Array<() => Promise<void>>;
  onInvocation: (report: InvocationReport) => void;
  /** The local SQS, for routes integrated with a queue. */
  sqs?: LocalSqs;
  /** The embedded DynamoDB, for routes integrated with it, and whether its role's policy is checked. */
  dynamodb?: { endpoint: string; iam: boolean };
}): Promise<GatewayService> => {
  const { model, log, pools } = options;
  const { stage } = model;
  // Lambda proxy routes go to the pools; emulated integrations and unservable routes to their targets.
  const dynamodb = options.dynamodb && { ...options.dynamodb, region: options.region, accountId: options.accountId, log };
  const routesOf = (m: AppModel) => routeTargetsFor(m, pools, options.sqs, dynamodb);
  // What the template has that the gateway skips or only partly emulates: one line each, never fatal.
  for (const notice of model.notices) log.warn(notice);
  let authorize: ReturnType<typeof createAuthorizer> | undefined;
  if (model.authorizer?.kind === 'iam') {
    log.warn('The WebSocket API uses AWS_IAM authorization, which the local gateway does not emulate: connections are not authorized locally.');
  } else if (model.authorizer?.kind === 'lambda') {
    const pool = pools.get(model.authorizer.functionId);
    if (pool === undefined) {
      throw new Error(`The $connect authorizer's function ${model.authorizer.functionId} is not an AWS::Serverless::Function the gateway can build and run`);
    }
    authorize = createAuthorizer({
      pool,
      identitySources: model.authorizer.identitySources,
      name: model.authorizer.name,
      log,
      region: options.region,
      accountId: options.accountId,
      stageVariables: model.stageVariables,
      onInvocation: options.onInvocation,
    });
  }
  const wsApi = createWebSocketApi({
    api: { ...options.api, stage },
    routeSelectionExpression: model.routeSelectionExpression,
    routes: routesOf(model),
    registry: options.registry,
    log,
    ...options.limits,
    onInvocation: options.onInvocation,
    authorize,
  });
  const serveStatic = createStaticHandler(options.staticDir);
  const { devIssuer, management } = options;

  const handleRequest = (req: IncomingMessage, res: ServerResponse) => {
    if (isManagementPath(normalizeApiPath(req.url))) watchApiRequest(req, res, log, `port ${options.entry.port}`);
    const path = new URL(req.url ?? '/', 'http://local').pathname;
    const handle = isManagementPath(req.url)
      ? management(req, res)
      : // Tokens only to loopback names: not to a function's call to the execute-api host, say.
        devIssuer?.serves(path)
        ? isLoopbackName(hostNameOf(req))
          ? devIssuer.handle(req, res)
          : Promise.resolve(refuseHost(req, res, 'the dev issuer answers loopback names only (localhost, 127.0.0.1, [::1])'))
        : serveStatic(req, res);
    handle.catch((error: Error) => {
      log.error(`${req.method} ${req.url}: ${error.stack ?? error.message}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'Internal error in the local gateway' }));
    });
  };
  options.entry.open(handleRequest, (req, socket, head) => {
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
  });
  return {
    name: 'WebSocket API',
    restartReason(next, previous) {
      if (next.stage !== previous.stage) return `the stage changed from ${previous.stage} to ${next.stage}`;
      if (JSON.stringify(next.authorizer) !== JSON.stringify(previous.authorizer)) return 'the $connect authorizer changed';
      return undefined;
    },
    reload(next) {
      wsApi.setRoutes(next.routeSelectionExpression, routesOf(next));
    },
    // wsApi.stop() waits for running invocations, and stopping the pools is what ends them.
    stop: async () => {
      await Promise.all([wsApi.stop(), ...options.stopAlongside.map((stop) => stop())]);
    },
  };
};
