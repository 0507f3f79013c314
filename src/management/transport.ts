// The delivery engine talks to the @connections API through this narrow interface, so that the
// plain SDK path (PostToConnectionCommand) and a leaner signed-HTTP path are interchangeable and
// can be proven equivalent by test.
import { WsOutboxError } from '../errors.ts';

/** What went wrong with one request, in the terms the engine decides on. */
export type FailureKind =
  | 'gone' // 410 GoneException: prune the connection
  | 'throttled' // 429 LimitExceededException: retry with backoff
  | 'server' // 5xx: retry with backoff
  | 'network' // ECONNRESET, ECONNREFUSED, EPIPE, ETIMEDOUT…: retry
  | 'timeout' // our own per-request timeout fired: retry
  | 'forbidden' // 403: final
  | 'too-large' // 413 PayloadTooLargeException: final
  | 'client'; // any other 4xx or unknown: final

export interface DeliveryFailure {
  kind: FailureKind;
  /** HTTP status when there was a response. */
  status?: number;
  /** The AWS error type (x-amzn-ErrorType) or the Node error code. */
  name: string;
  message: string;
}

export interface Transport {
  /** PostToConnection. Resolves on 2xx; rejects with a TransportError otherwise. */
  post(connectionId: string, body: Uint8Array, signal: AbortSignal): Promise<void>;
  /** DeleteConnection. Resolves on 2xx; rejects with a TransportError otherwise. */
  delete(connectionId: string, signal: AbortSignal): Promise<void>;
  /** Frees sockets. Used by tests and tools; Lambda never calls it. */
  destroy(): void;
}

export class TransportError extends WsOutboxError {
  readonly failure: DeliveryFailure;
  constructor(failure: DeliveryFailure, options?: { cause?: unknown }) {
    super(`DELIVERY_${failure.kind.toUpperCase()}`, failure.message, options);
    this.failure = failure;
  }
}

export const retryableKinds: ReadonlySet<FailureKind> = new Set(['throttled', 'server', 'network', 'timeout']);
