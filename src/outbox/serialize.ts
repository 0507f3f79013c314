import { PayloadTooLargeError } from '../errors.ts';
import type { Message } from '../types.ts';

/** API Gateway's WebSocket message payload quota. */
export const maxPayloadBytes = 128 * 1024;

const encoder = new TextEncoder();

/**
 * Turns a message into the bytes PostToConnection sends: strings as UTF-8, bytes as they are,
 * anything else as JSON. Called once per enqueued message, never per recipient.
 */
export const serializeMessage = (message: Message, limit = maxPayloadBytes): Uint8Array => {
  let bytes: Uint8Array;
  if (typeof message === 'string') bytes = encoder.encode(message);
  else if (message instanceof Uint8Array) bytes = message;
  else {
    const json = JSON.stringify(message);
    if (json === undefined) throw new TypeError('message is not serializable to JSON (undefined, a function or a symbol)');
    bytes = encoder.encode(json);
  }
  if (bytes.byteLength > limit) throw new PayloadTooLargeError(bytes.byteLength, limit);
  return bytes;
};
