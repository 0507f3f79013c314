// The @connections management API, on the gateway's own port, as the real SDK client expects it:
// `POST|GET|DELETE /@connections/{id}` and `/{stage}/@connections/{id}`, AWS error types in the
// `x-amzn-ErrorType` header with a JSON `{"message"}` body. Each request is checked against the
// calling function's execute-api:ManageConnections statements (iam/check.ts). As on AWS, a request
// must carry a SigV4 signature (an Authorization header or a presigned query): without one it is
// 403 MissingAuthenticationTokenException, with a malformed one 403 IncompleteSignatureException
// (the signature itself is not verified: the gateway does not know the keys of outside callers). A connection whose client is not reading (more than maxBufferedBytes waiting
// to be written to it) answers POST with 429 LimitExceededException, as API Gateway does, and
// nobody else waits for it.
//
// Each request stamped by a worker with `x-local-invocation` is checked against the invocation
// ledger: one that arrives after its invocation returned is a LATE SEND, reported loudly (on
// Lambda it would have been frozen with the instance and sent late, or never).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isUtf8 } from 'node:buffer';
import type { ConnectionRegistry } from './connections.ts';
import type { InvocationLedger, LateSend } from './invocations.ts';
import type { IamCheck } from './iam/check.ts';
import type { Logger } from './log.ts';
import { invocationHeader } from './worker-protocol.ts';
import { withDefaults } from 'ws-outbox/util';

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
  /** The IAM check; none: every request is allowed. */
  iam?: IamCheck;
  /** For the resource ARN the IAM check sees: arn:aws:execute-api:<region>:<account>:<apiId>/<stage>/<METHOD>/@connections/<id>. */
  region: string;
  accountId: string;
  apiId: string;
}

const defaults = {
  maxPayloadBytes: 128 * 1024,
  // What the gateway holds for one client beyond what the kernel's socket buffers took (several
  // MB on loopback): a client this far behind is not reading.
  maxBufferedBytes: 1024 * 1024,
  region: 'us-east-1',
  accountId: '123456789012',
  apiId: 'localapi01',
};

const decode = (text: string): string | undefined => {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
};

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
export const readBody = (req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > limit ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });

/**
 * Why a request is not SigV4-signed as API Gateway requires, as its error type and message; undefined
 * when it is (the signature's value is not checked). The rules follow what API Gateway answers.
 */
export const unsignedReason = (req: Pick<IncomingMessage, 'headers' | 'url'>): { type: string; message: string } | undefined => {
  const authorization = req.headers.authorization;
  const query = new URLSearchParams((req.url ?? '').includes('?') ? (req.url ?? '').slice((req.url ?? '').indexOf('?') + 1) : '');
  if (authorization === undefined || authorization === '') {
    if (!query.has('X-Amz-Algorithm')) return { type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' };
    const missing = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-SignedHeaders', 'X-Amz-Date'].filter((name) => !query.get(name));
    return missing.length === 0
      ? undefined
      : {
          type: 'IncompleteSignatureException',
          message: `AWS query-string parameters must include ${missing.map((m) => `'${m}'`).join(', ')}. Re-examine the query-string parameters.`,
        };
  }
  if (!/^AWS4-HMAC-SHA256\s/.test(authorization)) {
    return {
      type: 'IncompleteSignatureException',
      message: `Authorization header requires the AWS4-HMAC-SHA256 algorithm (SigV4). Authorization=${authorization.split(/\s/)[0]}`,
    };
  }
  const missing = ['Credential', 'SignedHeaders', 'Signature'].filter((name) => !new RegExp(`[\\s,]${name}=[^,\\s]+`).test(authorization));
  if (!req.headers['x-amz-date'] && !req.headers.date) missing.push("either 'X-Amz-Date' or 'Date' header");
  return missing.length === 0
    ? undefined
    : {
        type: 'IncompleteSignatureException',
        message: `Authorization header requires ${missing.map((m) => (m.includes(' ') ? m : `'${m}' parameter`)).join(', ')}.`,
      };
};

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
      requestId,
      functionName: record.functionName,
      route: record.route,
      method: req.method ?? '?',
      connectionId,
      afterMs: Date.now() - record.endedAt,
      at: Date.now(),
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
    const unsigned = unsignedReason(req);
    if (unsigned !== undefined) {
      req.resume();
      return reply(res, 403, { message: unsigned.message }, unsigned.type);
    }
    const match = pathPattern.exec(req.url ?? '')!;
    const [, rawStage, rawId] = match;
    const stage = rawStage === undefined ? undefined : decode(rawStage);
    const connectionId = decode(rawId!);
    // A malformed %-escape is the client's error, answered as one.
    if ((rawStage !== undefined && stage === undefined) || connectionId === undefined) {
      req.resume();
      return reply(res, 400, { message: `Invalid URI escape in ${req.url}` }, 'BadRequestException');
    }
    if (stage !== undefined && stage !== opts.stage) {
      req.resume();
      return reply(res, 403, { message: `Forbidden: this gateway serves stage "${opts.stage}", not "${stage}"` }, 'ForbiddenException');
    }
    const resource = `arn:aws:execute-api:${opts.region}:${opts.accountId}:${opts.apiId}/${opts.stage}/${req.method}/@connections/${connectionId}`;
    const verdict = opts.iam?.(req, 'execute-api:ManageConnections', [resource]) ?? { kind: 'allowed' };
    if (verdict.kind !== 'allowed') {
      req.resume();
      const message =
        verdict.kind === 'denied'
          ? verdict.message
          : verdict.signed
            ? 'The security token included in the request is invalid.'
            : 'Missing Authentication Token';
      return reply(res, 403, { Message: message }, 'ForbiddenException');
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
