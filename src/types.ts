import type { APIGatewayProxyWebsocketEventV2, Context } from 'aws-lambda';
import type { Outbox } from './outbox/outbox.ts';
import type { Store } from './store/store.ts';

/** A message is a string, bytes, or any JSON value. It is serialized once, however many get it. */
export type Message = string | Uint8Array | JsonValue;
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue | undefined };

/**
 * The WebSocket event as API Gateway sends it, with `body` already parsed from JSON.
 * `$connect` and `$disconnect` carry no body. `$connect` also carries headers and the query string.
 */
export type WsEvent<TBody = unknown> = Omit<APIGatewayProxyWebsocketEventV2, 'body' | 'requestContext'> & {
  body: TBody;
  /** The raw frame, as API Gateway delivered it (base64 when `isBase64Encoded`). */
  rawBody?: string;
  requestContext: APIGatewayProxyWebsocketEventV2['requestContext'] & {
    identity?: { sourceIp?: string; userAgent?: string };
    disconnectStatusCode?: number;
    disconnectReason?: string;
  };
  headers?: Record<string, string | undefined>;
  multiValueHeaders?: Record<string, string[] | undefined>;
  queryStringParameters?: Record<string, string | undefined> | null;
};

/** The Lambda context plus what ws-outbox adds to it. */
export type WsContext = Context & {
  /** One per invocation; flushed before the response goes back. */
  outbox: Outbox;
  /** The connection store (DynamoDB in Lambda, in memory under the testing helper). */
  store: Store;
};

export interface WsResult {
  statusCode: number;
  body?: string;
  headers?: Record<string, string>;
}

export interface FailedDelivery {
  connectionId: string;
  /** `deadline`, or the failure kind: `throttled`, `server`, `network`, `timeout`, `forbidden`, `too-large`, `client`. */
  reason: string;
  status?: number;
  /** The AWS error type or Node error code behind it. */
  error?: string;
}

/** What happened to everything one invocation enqueued. sent + gone.length + failed.length === queued. */
export interface DeliveryReport {
  queued: number;
  sent: number;
  /** Connections that answered 410, one entry per message that could not reach them. */
  gone: string[];
  failed: FailedDelivery[];
  /** Gone (or disconnected) connections removed from the store. */
  pruned: number;
  durationMs: number;
}
