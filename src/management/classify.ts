import type { DeliveryFailure, FailureKind } from './transport.ts';

// Node socket errors that mean "the request may not have reached the server; try again".
// The same list the SDK's standard retry strategy treats as transient.
const networkCodes = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED', 'UND_ERR_SOCKET']);

/** Maps an HTTP status (and AWS error type) to what the engine should do about it. */
export const kindOfStatus = (status: number, name = ''): FailureKind => {
  if (status === 410 || name === 'GoneException') return 'gone';
  if (status === 429 || name === 'LimitExceededException' || name === 'ThrottlingException') return 'throttled';
  if (status === 403) return 'forbidden';
  if (status === 413 || name === 'PayloadTooLargeException') return 'too-large';
  if (status >= 500) return 'server';
  return 'client';
};

interface ErrorLike {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
}

/**
 * Classifies anything a send can throw: SDK v3 service exceptions (which carry
 * `$metadata.httpStatusCode`, never `statusCode`), Node socket errors, and aborts.
 */
export const classifyError = (error: unknown, timedOut = false): DeliveryFailure => {
  const e = (error ?? {}) as ErrorLike;
  const name = e.name ?? 'Error';
  const message = e.message ?? String(error);
  if (timedOut || name === 'TimeoutError' || name === 'AbortError') {
    return { kind: 'timeout', name: 'TimeoutError', message: timedOut ? 'request timed out' : message };
  }
  const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  if (typeof status === 'number' && status >= 400) {
    return { kind: kindOfStatus(status, name), status, name, message };
  }
  if (e.code !== undefined && networkCodes.has(e.code)) return { kind: 'network', name: e.code, message };
  if (networkCodes.has(name)) return { kind: 'network', name, message };
  // The SDK names the request-timeout error "TimeoutError"; socket-level failures surface as
  // plain errors with a `code`. Anything else is not worth retrying blind.
  return { kind: 'client', name, message };
};
