// Lambda events shaped like the ones API Gateway WebSocket APIs send: the $connect event carries
// the upgrade request's headers and query string; MESSAGE events the frame (base64 for binary);
// $disconnect the close code and reason.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { newRequestId } from './ids.ts';

export interface ApiInfo {
  apiId: string;
  stage: string;
  /** Host the clients connected to (what a custom domain would be). */
  domainName: string;
}

export interface ConnectionInfo {
  connectionId: string;
  connectedAt: number;
  sourceIp: string;
  userAgent?: string;
  /** What the $connect authorizer let the connection in with (principalId + stringified context). */
  authorizer?: Record<string, unknown>;
}

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');
// API Gateway's CLF-style requestTime: "27/Nov/2026:14:03:07 +0000".
const requestTime = (d: Date) =>
  `${pad(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;

const requestContext = (api: ApiInfo, conn: ConnectionInfo, routeKey: string, eventType: string, extra: Record<string, unknown> = {}) => {
  const now = new Date();
  const requestId = newRequestId();
  return {
    routeKey,
    eventType,
    extendedRequestId: requestId,
    requestTime: requestTime(now),
    messageDirection: 'IN',
    stage: api.stage,
    connectedAt: conn.connectedAt,
    requestTimeEpoch: now.getTime(),
    identity: { sourceIp: conn.sourceIp, ...(conn.userAgent !== undefined ? { userAgent: conn.userAgent } : {}) },
    requestId,
    domainName: api.domainName,
    connectionId: conn.connectionId,
    apiId: api.apiId,
    ...(conn.authorizer === undefined ? {} : { authorizer: conn.authorizer }),
    ...extra,
  };
};

// Headers and query keys are the client's: any name, `__proto__`, `constructor` or `toString`
// included. They are gathered in Maps and become plain objects through Object.fromEntries, which
// defines every key as an own property (a plain object's `obj[key] ??= []` would reach
// Object.prototype's members for those names).

// API Gateway keeps the header names' original case; Node lower-cases them, rawHeaders does not.
// It adds its own tracing and forwarding headers, as the load balancer in front of it does.
const headersOf = (req: IncomingMessage, conn: ConnectionInfo) => {
  const multi = new Map<string, string[]>();
  const add = (name: string, value: string) => {
    const values = multi.get(name);
    if (values) values.push(value);
    else multi.set(name, [value]);
  };
  for (let i = 0; i < req.rawHeaders.length; i += 2) add(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  const epochHex = Math.floor(conn.connectedAt / 1000).toString(16);
  add('X-Amzn-Trace-Id', `Root=1-${epochHex}-${randomBytes(12).toString('hex')}`);
  add('X-Forwarded-For', conn.sourceIp);
  add('X-Forwarded-Port', String(req.socket.localPort ?? ''));
  add('X-Forwarded-Proto', 'http');
  return {
    headers: Object.fromEntries([...multi].map(([name, values]) => [name, values.join(',')])),
    multiValueHeaders: Object.fromEntries(multi),
  };
};

const queryOf = (req: IncomingMessage) => {
  const params = new URL(req.url ?? '/', 'http://local').searchParams;
  if ([...params.keys()].length === 0) return {};
  const multi = new Map<string, string[]>();
  for (const [key, value] of params) {
    const values = multi.get(key);
    if (values) values.push(value);
    else multi.set(key, [value]);
  }
  return {
    // The last value wins, as in API Gateway.
    queryStringParameters: Object.fromEntries([...multi].map(([key, values]) => [key, values.at(-1)!])),
    multiValueQueryStringParameters: Object.fromEntries(multi),
  };
};

export const connectEvent = (api: ApiInfo, conn: ConnectionInfo, req: IncomingMessage) => ({
  ...headersOf(req, conn),
  ...queryOf(req),
  requestContext: requestContext(api, conn, '$connect', 'CONNECT'),
  isBase64Encoded: false,
});

export const messageEvent = (api: ApiInfo, conn: ConnectionInfo, routeKey: string, data: Buffer, isBinary: boolean) => ({
  requestContext: requestContext(api, conn, routeKey, 'MESSAGE', { messageId: newRequestId() }),
  body: isBinary ? data.toString('base64') : data.toString('utf8'),
  isBase64Encoded: isBinary,
});

export const disconnectEvent = (api: ApiInfo, conn: ConnectionInfo, statusCode: number, reason: string) => ({
  headers: { Host: api.domainName, 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' },
  multiValueHeaders: { Host: [api.domainName], 'x-api-key': [''], 'X-Forwarded-For': [''], 'x-restapi': [''] },
  requestContext: requestContext(api, conn, '$disconnect', 'DISCONNECT', { disconnectStatusCode: statusCode, disconnectReason: reason }),
  isBase64Encoded: false,
});
