// The @connections management API, on the gateway's own port, as the real SDK client expects it:
// `POST|GET|DELETE /@connections/{id}` and `/{stage}/@connections/{id}`, AWS error types in the
// `x-amzn-ErrorType` header with a JSON `{"message"}` body. Signatures are accepted, not checked.
//
// Each request stamped by a worker with `x-local-invocation` is checked against the invocation
// ledger: one that arrives after its invocation returned is a LATE SEND, reported loudly (on
// Lambda it would have been frozen with the instance and sent late, or never).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isUtf8 } from 'node:buffer';
import type { ConnectionRegistry } from './connections.ts';
import type { InvocationLedger, LateSend } from './invocations.ts';
import type { Logger } from './log.ts';
import { invocationHeader } from './worker-protocol.ts';
import { withDefaults } from '../options.ts';

export interface Delivery {
  connectionId: string;
  /** The invocation whose async context made the request (x-local-invocation), if any. */
  requestId?: string;
  late: boolean;
  bytes: number;
}

export interface ManagementApiOptions {
  stage: string;
  registry: ConnectionRegistry;
  ledger: InvocationLedger;
  log: Logger;
  onLateSend: (late: LateSend) => void;
  /** Every message POSTed to a live socket, with the invocation that sent it (if stamped). */
  onDelivery?: (delivery: Delivery) => void;
  maxPayloadBytes: number;
  /** Over this many bytes waiting in the client's socket buffer, POST answers 429. */
  maxBufferedBytes: number;
}

const defaults = { maxPayloadBytes: 128 * 1024, maxBufferedBytes: 8 * 1024 * 1024 };

const pathPattern = /^(?:\/([^/]+))?\/@connections\/([^/?]+)\/?(?:\?.*)?$/;

/** True when the request is for the management API (the caller routes it here). */
export const isManagementPath = (url: string | undefined): boolean => pathPattern.test(url ?? '');

const iso = (ms: number) => new Date(ms).toISOString();

const reply = (res: ServerResponse, status: number, body?: unknown, errorType?: string) => {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-RequestId': randomUUID(),
    ...(errorType ? { 'x-amzn-ErrorType': errorType } : {}),
  });
  res.end(text);
};

// Reads the body, but stops buffering past the limit: a huge payload must not cost memory.
const readBody = (req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> => new Promise((resolve, reject) => {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  });
  req.on('end', () => resolve(size > limit ? 'too-large' : Buffer.concat(chunks)));
  req.on('error', reject);
});

export const createManagementApi = (options: Omit<ManagementApiOptions, keyof typeof defaults> & Partial<ManagementApiOptions>) => {
  const opts = withDefaults(defaults, options);
  const { registry, ledger, log } = opts;
  const shouted = new Set<string>();

  /** True for a request stamped by an invocation that has already returned (and reports it). */
  const checkLate = (req: IncomingMessage, connectionId: string): boolean => {
    const requestId = req.headers[invocationHeader];
    if (typeof requestId !== 'string') return false;
    const record = ledger.get(requestId);
    if (!record || record.endedAt === undefined) return false;
    const late: LateSend = {
      requestId, functionName: record.functionName, route: record.route, method: req.method ?? '?',
      connectionId, afterMs: Date.now() - record.endedAt, at: Date.now(),
    };
    opts.onLateSend(late);
    // One loud block per invocation; its further late requests get one line each.
    if (shouted.has(requestId)) {
      log.error(`LATE SEND: ${late.method} @connections/${connectionId} from ${late.functionName} (request ${requestId}), ${late.afterMs} ms late`);
    } else {
      shouted.add(requestId);
      log.loud([
        `LATE SEND: ${late.method} @connections/${connectionId}`,
        `from ${late.functionName} (route ${late.route ?? '-'}, request ${requestId}),`,
        `${late.afterMs} ms after that invocation returned.`,
        'On Lambda this request is frozen with the instance: it goes out late or never.',
        'Await every send before returning, or enqueue it on context.outbox.',
      ]);
    }
    return true;
  };

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const match = pathPattern.exec(req.url ?? '')!;
    const [, stage, rawId] = match;
    if (stage !== undefined && decodeURIComponent(stage) !== opts.stage) {
      req.resume();
      return reply(res, 403, { message: `Forbidden: this gateway serves stage "${opts.stage}", not "${stage}"` }, 'ForbiddenException');
    }
    let connectionId: string;
    try {
      connectionId = decodeURIComponent(rawId!);
    } catch {
      req.resume();
      return reply(res, 400, { message: 'Invalid connection id encoding' }, 'BadRequestException');
    }
    const late = checkLate(req, connectionId);
    const stamp = req.headers[invocationHeader];
    const connection = registry.get(connectionId);
    const gone = () => reply(res, 410, { message: `Connection ${connectionId} is gone` }, 'GoneException');

    switch (req.method) {
      case 'POST': {
        const body = await readBody(req, opts.maxPayloadBytes);
        if (body === 'too-large') {
          return reply(res, 413, { message: `Request payload exceeds the ${opts.maxPayloadBytes}-byte limit` }, 'PayloadTooLargeException');
        }
        if (!connection || connection.ws.readyState !== connection.ws.OPEN) return gone();
        if (connection.ws.bufferedAmount > opts.maxBufferedBytes) {
          return reply(res, 429, { message: 'The client is not reading fast enough' }, 'LimitExceededException');
        }
        // API Gateway sends valid UTF-8 as a text frame; anything else can only be binary.
        connection.ws.send(body, { binary: !isUtf8(body) });
        opts.onDelivery?.({ connectionId, requestId: typeof stamp === 'string' ? stamp : undefined, late, bytes: body.length });
        return reply(res, 200);
      }
      case 'GET':
        req.resume();
        if (!connection) return gone();
        // The wire names are camelCase ISO-8601 dates; the SDK maps them to ConnectedAt, Identity…
        return reply(res, 200, {
          connectedAt: iso(connection.connectedAt),
          identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent ?? '' },
          lastActiveAt: iso(connection.lastActiveAt),
        });
      case 'DELETE':
        req.resume();
        if (!connection) return gone();
        registry.close(connection, 1000, 'Connection deleted by the @connections API');
        res.writeHead(204, { 'x-amzn-RequestId': randomUUID() }).end();
        return;
      default:
        req.resume();
        return reply(res, 405, { message: `${req.method} is not a @connections operation (POST, GET, DELETE)` }, 'MethodNotAllowedException');
    }
  };
};
