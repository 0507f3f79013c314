import { randomBytes, randomUUID } from 'node:crypto';
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';

export interface WsEventSpec {
  /** `$connect`, `$disconnect`, `$default` or a custom route key such as `send`. */
  routeKey: string;
  connectionId?: string;
  /** A message body: an object is sent as JSON text, a string as it is, bytes as a binary frame. */
  body?: unknown;
  queryStringParameters?: Record<string, string>;
  headers?: Record<string, string>;
  apiId?: string;
  stage?: string;
  sourceIp?: string;
  /**
   * What a $connect authorizer returned for this connection: `principalId` plus its context.
   * Values are stringified, as API Gateway passes them on.
   */
  authorizer?: { principalId: string } & Record<string, string | number | boolean>;
}

/** The authorizer as routes see it: every context value a string, beside principalId. */
export const authorizerAsSeen = (authorizer: NonNullable<WsEventSpec['authorizer']>): Record<string, unknown> => ({
  ...Object.fromEntries(Object.entries(authorizer).map(([k, v]) => [k, String(v)])),
  integrationLatency: 0,
});

/**
 * A connection id shaped like API Gateway's: 11 random bytes in base64's URL-safe alphabet with its
 * `=` pad (`ZDb-VclrIAMCJ3w=`). AWS never hands out `+` or `/`; the `=` still needs URL-encoding.
 */
export const newConnectionId = (): string => `${randomBytes(11).toString('base64url')}=`;

/**
 * An event shaped like the ones API Gateway WebSocket APIs send Lambda: requestContext fields,
 * headers and query string on $connect, a body (base64 for binary frames) on messages.
 */
export const makeWsEvent = (spec: WsEventSpec): APIGatewayProxyWebsocketEventV2 & Record<string, unknown> => {
  const eventType = spec.routeKey === '$connect' ? 'CONNECT' : spec.routeKey === '$disconnect' ? 'DISCONNECT' : 'MESSAGE';
  const apiId = spec.apiId ?? 'abcd123456';
  const stage = spec.stage ?? 'local';
  const now = Date.now();
  const requestContext: Record<string, unknown> = {
    routeKey: spec.routeKey,
    eventType,
    extendedRequestId: randomUUID(),
    requestTime: new Date(now).toUTCString(),
    messageDirection: 'IN',
    stage,
    connectedAt: now,
    requestTimeEpoch: now,
    identity: { sourceIp: spec.sourceIp ?? '127.0.0.1', userAgent: spec.headers?.['User-Agent'] },
    requestId: randomUUID(),
    domainName: `${apiId}.execute-api.us-east-1.amazonaws.com`,
    connectionId: spec.connectionId ?? newConnectionId(),
    apiId,
  };
  if (spec.authorizer !== undefined) requestContext.authorizer = authorizerAsSeen(spec.authorizer);
  const event: Record<string, unknown> = { requestContext, isBase64Encoded: false };
  if (eventType === 'MESSAGE') {
    requestContext.messageId = randomBytes(8).toString('base64');
    if (spec.body instanceof Uint8Array) {
      event.body = Buffer.from(spec.body).toString('base64');
      event.isBase64Encoded = true;
    } else {
      event.body = typeof spec.body === 'string' ? spec.body : JSON.stringify(spec.body ?? {});
    }
  }
  if (eventType === 'CONNECT') {
    const headers = {
      Host: requestContext.domainName as string,
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
      ...spec.headers,
    };
    event.headers = headers;
    event.multiValueHeaders = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]]));
    if (spec.queryStringParameters) {
      event.queryStringParameters = spec.queryStringParameters;
      event.multiValueQueryStringParameters = Object.fromEntries(Object.entries(spec.queryStringParameters).map(([k, v]) => [k, [v]]));
    }
  }
  if (eventType === 'DISCONNECT') {
    requestContext.disconnectStatusCode = 1000;
    requestContext.disconnectReason = 'Client-side close frame status code';
  }
  return event as APIGatewayProxyWebsocketEventV2 & Record<string, unknown>;
};
