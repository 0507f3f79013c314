import { createError } from '@middy/util';

// Errors a handler author meets. Each message says what went wrong and what to do instead,
// because they fire at enqueue time, far from where the symptom would otherwise show.

/**
 * The one base class of every error ws-outbox throws (the library and the local gateway), as
 * Powertools and Middy give theirs one. `code` is stable and machine-readable; the message is for
 * people. `instanceof WsOutboxError` tells our errors from an app's or the SDK's.
 */
export class WsOutboxError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Enqueuing after the flush began: the work would be frozen with the Lambda environment. */
export class OutboxClosedError extends WsOutboxError {
  constructor(method: string) {
    super(
      'OUTBOX_CLOSED',
      `outbox.${method}() was called after the outbox began flushing. Lambda freezes the environment ` +
        'as soon as the handler returns, so a message enqueued from a floating promise, a timer or an ' +
        'un-awaited callback would never be sent. Await that work inside the handler before returning.',
    );
  }
}

/** API Gateway refuses messages over 128 KB; fail where the message is made, not at send time. */
export class PayloadTooLargeError extends WsOutboxError {
  readonly bytes: number;
  readonly limit: number;
  constructor(bytes: number, limit: number) {
    super('PAYLOAD_TOO_LARGE', `message is ${bytes} bytes; API Gateway WebSocket messages are limited to ${limit} bytes (128 KB). It was not enqueued.`);
    this.bytes = bytes;
    this.limit = limit;
  }
}

/** A 4xx that is safe to show the caller in the error reply. */
export const badRequest = (message: string) => createError(400, message);
