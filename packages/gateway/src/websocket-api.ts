// The WebSocket side of the gateway, with API Gateway's rules: $connect runs during the upgrade
// and a non-2xx rejects it with that status; the connection exists (for the management API too)
// only after $connect succeeded; each message is routed by the route selection expression with
// $default as the fallback; frames over 32 KB and messages over 128 KB close with 1009; idle and
// maximum-duration limits close the socket; $disconnect runs after the close.
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ConnectionRegistry, LiveConnection } from './connections.ts';
import { connectEvent, disconnectEvent, messageEvent, type ApiInfo } from './events.ts';
import { watchFrameSizes } from './frame-limit.ts';
import { handshakeError } from './handshake.ts';
import { stoppedErrorType, type InvokeOutcome } from './function-pool.ts';
import type { RouteTarget } from './route-targets.ts';
import { newConnectionId } from './ids.ts';
import type { AuthorizerDecision } from './authorizer.ts';
import type { Logger } from './log.ts';
import { routeSelector } from './route-selection.ts';
import { withDefaults } from 'ws-outbox/util';

export interface InvocationReport {
  route: string;
  functionName: string;
  connectionId: string;
  requestId: string;
  status: InvokeOutcome['status'];
  /** The HTTP status API Gateway derives ($connect) or the handler's statusCode. */
  statusCode?: number;
  durationMs: number;
}

export interface WebSocketApiOptions {
  api: ApiInfo;
  routeSelectionExpression: string;
  /** Route key → the pool of the function it integrates with. */
  routes: Map<string, RouteTarget>;
  registry: ConnectionRegistry;
  log: Logger;
  onInvocation: (report: InvocationReport) => void;
  maxMessageBytes: number;
  maxFrameBytes: number;
  idleTimeoutMs: number;
  maxDurationMs: number;
  /** false: $disconnect never runs, as API Gateway may do (it is best effort). For prune tests. */
  runDisconnect: boolean;
  /** The $connect authorizer (authorizer.ts), when the API has one: it runs before $connect. */
  authorize?: (event: ReturnType<typeof connectEvent>) => Promise<AuthorizerDecision>;
}

const defaults = {
  runDisconnect: true,
  maxMessageBytes: 128 * 1024,
  maxFrameBytes: 32 * 1024,
  idleTimeoutMs: 10 * 60 * 1000,
  maxDurationMs: 2 * 60 * 60 * 1000,
};

// What API Gateway makes of a Lambda proxy result. $connect without a statusCode succeeds.
const statusCodeOf = (outcome: InvokeOutcome): number => {
  if (outcome.status === 'timeout') return 504;
  if (outcome.status === 'error') return 500;
  const result = outcome.result as { statusCode?: unknown } | null;
  const code = Number(result?.statusCode ?? 200);
  return Number.isInteger(code) && code >= 100 && code <= 599 ? code : 502;
};

const headerOf = (outcome: InvokeOutcome, name: string): string | undefined => {
  if (outcome.status !== 'ok') return undefined;
  const headers = (outcome.result as { headers?: Record<string, unknown> } | null)?.headers ?? {};
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : String(headers[key]);
};

/** Answers an upgrade request with an HTTP error and closes the socket. */
export const refuseUpgrade = (socket: Duplex, status: number, body: string, headers: Record<string, string> = {}) => {
  if (socket.destroyed) return;
  socket.end(
    [
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
      'Content-Type: application/json',
      `Content-Length: ${Buffer.byteLength(body)}`,
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
      'Connection: close',
      '',
      body,
    ].join('\r\n'),
  );
};

const rejectUpgrade = (socket: Duplex, status: number, outcome?: InvokeOutcome) => {
  const result = outcome?.status === 'ok' ? (outcome.result as { body?: unknown } | null) : null;
  const body =
    typeof result?.body === 'string'
      ? result.body
      : JSON.stringify({ message: status >= 500 ? 'Internal server error' : (STATUS_CODES[status] ?? 'Rejected') });
  refuseUpgrade(socket, status, body);
};

/** The lines a failed invocation gets in the log: the error, the first frames of its stack, or a 5xx's body. */
const failureDetails = (outcome: InvokeOutcome, statusCode: number): string[] => {
  if (outcome.status === 'error') {
    // The function's frames; the local runtime's own (which called the handler) say nothing.
    const frames = (outcome.error.trace ?? [])
      .filter((line) => /^\s*at /.test(line) && !/\/(?:src|lib)\/runtime\.[jt]s:/.test(line))
      .slice(0, 5)
      .map((line) => `    ${line.trim()}`);
    return [`  ${outcome.error.errorType}: ${outcome.error.errorMessage}`, ...frames];
  }
  if (outcome.status === 'ok' && statusCode >= 500) {
    const body = (outcome.result as { body?: unknown } | null)?.body;
    if (body !== undefined)
      return String(typeof body === 'string' ? body : JSON.stringify(body))
        .split('\n')
        .slice(0, 6)
        .map((line) => `  ${line}`);
  }
  return [];
};

export const createWebSocketApi = (options: Omit<WebSocketApiOptions, keyof typeof defaults> & Partial<WebSocketApiOptions>) => {
  const opts = withDefaults(defaults, options);
  const { api, registry, log } = opts;
  let routes = opts.routes;
  let selectRoute = routeSelector(opts.routeSelectionExpression, routes.keys());
  const pending = new Set<Promise<unknown>>();
  let stopping = false;

  // The subprotocol $connect answered with (Sec-WebSocket-Protocol), per upgrade request.
  const protocols = new WeakMap<IncomingMessage, string>();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: opts.maxMessageBytes,
    perMessageDeflate: false, // API Gateway does not negotiate compression
    clientTracking: false,
    handleProtocols: (offered, req) => {
      const chosen = protocols.get(req);
      return chosen !== undefined && offered.has(chosen) ? chosen : false;
    },
  });

  const track = <T>(promise: Promise<T>): Promise<T> => {
    pending.add(promise);
    promise.finally(() => pending.delete(promise)).catch(() => {});
    return promise;
  };

  const invoke = async (route: string, event: any, connectionId: string): Promise<InvokeOutcome> => {
    const pool = routes.get(route)!;
    const outcome = await track(pool.invoke(event, { route }));
    const statusCode = statusCodeOf(outcome);
    const cold = outcome.initMs !== undefined ? `, cold start ${outcome.initMs} ms` : '';
    const stopped = outcome.status === 'error' && outcome.error.errorType === stoppedErrorType;
    const what = outcome.status === 'ok' ? String(statusCode) : outcome.status === 'timeout' ? 'TIMEOUT' : stopped ? 'STOPPED' : 'ERROR';
    const line = `${route.padEnd(11)} ${pool.name} ${connectionId} → ${what} (${outcome.durationMs.toFixed(0)} ms${cold})`;
    if (stopped) log.info(`${line}: ended by the gateway's stop`);
    else if (outcome.status === 'ok' && statusCode < 500) log.info(line);
    else log.error([line, ...failureDetails(outcome, statusCode)].join('\n'));
    opts.onInvocation({
      route,
      functionName: pool.name,
      connectionId,
      requestId: outcome.requestId,
      status: outcome.status,
      statusCode,
      durationMs: outcome.durationMs,
    });
    return outcome;
  };

  const onMessage = (connection: LiveConnection, data: Buffer, isBinary: boolean) => {
    const choice = selectRoute(isBinary ? undefined : data.toString('utf8'));
    const { connectionId } = connection;
    const event = messageEvent(api, connection, choice.route ?? '', data, isBinary);
    const requestId = event.requestContext.requestId;
    const tell = (message: string) => {
      if (connection.ws.readyState === connection.ws.OPEN) connection.ws.send(JSON.stringify({ message, connectionId, requestId }));
    };
    if (choice.route === undefined) {
      // What API Gateway answers when no route matches and there is no $default.
      log.warn(`${connectionId}: ${choice.reason}, and the template has no $default route`);
      return tell('Forbidden');
    }
    const twoWay = routes.get(choice.route)?.twoWay === true;
    invoke(choice.route, event, connectionId).then((outcome) => {
      // Without a route response the return value never reaches the client; failures do. With
      // one (a two-way route), a Lambda proxy integration's `body` is sent back as the reply.
      const reply = outcome.status === 'ok' ? (outcome.result as { body?: unknown } | null)?.body : undefined;
      if (twoWay && typeof reply === 'string' && reply !== '' && connection.ws.readyState === connection.ws.OPEN) connection.ws.send(reply);
      if (outcome.status === 'error') tell('Internal server error');
      if (outcome.status === 'timeout') tell('Endpoint request timed out');
    });
  };

  const onOpen = (ws: WebSocket, connection: LiveConnection) => {
    registry.add(connection);
    const idle = setTimeout(() => registry.close(connection, 1001, 'Going away: idle timeout'), opts.idleTimeoutMs);
    const lifetime = setTimeout(() => registry.close(connection, 1001, 'Going away: maximum connection duration'), opts.maxDurationMs);
    let tooBig = false;
    const touch = () => {
      connection.lastActiveAt = Date.now();
      idle.refresh();
    };
    watchFrameSizes((ws as unknown as { _socket: Duplex })._socket, opts.maxFrameBytes, (bytes) => {
      tooBig = true;
      log.warn(`${connection.connectionId}: a ${bytes}-byte frame is over the ${opts.maxFrameBytes}-byte frame limit; closing with 1009`);
      registry.close(connection, 1009, 'Frame too big');
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (tooBig) return;
      touch();
      onMessage(connection, data, isBinary);
    });
    ws.on('ping', touch);
    ws.on('error', (error) => {
      // `ws` closes with 1009 by itself when a message exceeds maxPayload.
      log.warn(`${connection.connectionId}: ${error.message}`);
    });
    ws.on('close', (code: number, reason: Buffer) => {
      clearTimeout(idle);
      clearTimeout(lifetime);
      registry.remove(connection.connectionId);
      if (stopping || !opts.runDisconnect || !routes.has('$disconnect')) return;
      const { code: statusCode, reason: text } = connection.closedBy ?? {
        code,
        reason: reason.length > 0 ? reason.toString() : code === 1005 ? 'Client-side close frame status not set' : code === 1006 ? 'Going away' : '',
      };
      invoke('$disconnect', disconnectEvent(api, connection, statusCode, text), connection.connectionId);
    });
  };

  // Every $connect that succeeded gets its $disconnect, also when the client hung up before the
  // upgrade completed (API Gateway saw the connection exist, so does the app's table).
  const disconnectUnopened = (connection: Omit<LiveConnection, 'ws'>) => {
    if (stopping || !opts.runDisconnect || !routes.has('$disconnect')) return;
    invoke('$disconnect', disconnectEvent(api, connection, 1006, 'Going away'), connection.connectionId);
  };

  const handleUpgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    socket.on('error', () => {}); // a client that vanishes mid-upgrade is not the gateway's problem
    const invalid = handshakeError(req);
    if (invalid) {
      log.warn(`upgrade refused (${invalid.status}): ${invalid.message}`);
      return refuseUpgrade(socket, invalid.status, JSON.stringify({ message: invalid.message }), invalid.headers);
    }
    const now = Date.now();
    const connection: Omit<LiveConnection, 'ws'> = {
      connectionId: newConnectionId(),
      connectedAt: now,
      lastActiveAt: now,
      sourceIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
      userAgent: req.headers['user-agent'],
    };
    if (opts.authorize !== undefined) {
      // Before $connect, as on API Gateway; its verdict (and context) is final for the connection.
      const decision = await track(opts.authorize(connectEvent(api, connection, req)));
      if (decision.status !== 200) return rejectUpgrade(socket, decision.status);
      connection.authorizer = decision.authorizer;
    }
    const connected = routes.has('$connect');
    if (connected) {
      const outcome = await invoke('$connect', connectEvent(api, connection, req), connection.connectionId);
      const status = statusCodeOf(outcome);
      if (status < 200 || status > 299) return rejectUpgrade(socket, status, outcome);
      const protocol = headerOf(outcome, 'sec-websocket-protocol');
      if (protocol !== undefined) protocols.set(req, protocol);
    }
    if (stopping || socket.destroyed || !socket.writable) {
      socket.destroy();
      if (connected) disconnectUnopened(connection);
      return;
    }
    // ws gives up without calling back when the socket died meanwhile: that connection was still made.
    let opened = false;
    socket.once('close', () => {
      if (!opened && connected) disconnectUnopened(connection);
    });
    wss.handleUpgrade(req, socket, head, (ws) => {
      opened = true;
      onOpen(ws, { ...connection, ws });
    });
  };

  return {
    handleUpgrade,
    /** A changed template: new messages are routed with these; connections stay open. */
    setRoutes(routeSelectionExpression: string, next: Map<string, RouteTarget>) {
      selectRoute = routeSelector(routeSelectionExpression, next.keys());
      routes = next;
    },
    /** Closes every socket (1001, no $disconnect) and waits for running invocations. */
    async stop(): Promise<void> {
      stopping = true;
      const open = [...registry];
      const closed = open.map(({ ws }) => new Promise((resolve) => ws.once('close', resolve)));
      for (const connection of open) registry.close(connection, 1001, 'Going away: gateway stopping');
      // Clients get a moment to answer the close frame; the rest are cut off.
      const grace = new Promise((resolve) => setTimeout(resolve, 500).unref());
      await Promise.race([Promise.all(closed), grace]);
      for (const { ws } of open) ws.terminate();
      await Promise.allSettled([...pending]);
      wss.close();
    },
  };
};
