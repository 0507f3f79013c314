import type { MiddlewareObj } from '@middy/core';
import { createError, jsonParseProtectProto } from '@middy/util';
import { checkNumber, withDefaults } from '../src/options.ts';
import { noteOversizedClientSendId, takeClientSendId } from '../src/sessions/acks.ts';

// @middy/ws-json-body-parser is not served by every registry, and we also want base64 frames
// and a 400 (not a crash) on bad input, so this is the small equivalent.

export interface WsJsonBodyParserOptions {
  /** Reject bodies larger than this many bytes before parsing. API Gateway's own limit is 128 KB. */
  maxBytes?: number;
}

const defaults = { maxBytes: 128 * 1024 };

/** Parses `event.body` from JSON (decoding base64 frames first). Invalid JSON becomes a 400. */
export const wsJsonBodyParser = (options: WsJsonBodyParserOptions = {}): MiddlewareObj => {
  // wsHandler passes `maxBytes: undefined` when the user sets nothing: the default must survive it.
  const { maxBytes } = withDefaults(defaults, options);
  checkNumber('wsJsonBodyParser maxBytes', maxBytes, { min: 1, integer: true });
  const before: MiddlewareObj['before'] = (request) => {
    const event = request.event as { body?: unknown; rawBody?: string; isBase64Encoded?: boolean };
    // $connect and $disconnect carry no body.
    if (typeof event.body !== 'string') return;
    const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
    if (Buffer.byteLength(text) > maxBytes) {
      noteOversizedClientSendId(event, text);
      throw createError(413, `message is larger than ${maxBytes} bytes`);
    }
    event.rawBody = event.body;
    try {
      event.body = jsonParseProtectProto(text, undefined, 'ws-outbox');
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode) throw error;
      throw createError(400, 'Invalid JSON: the message must be a JSON object', { cause: error });
    }
    // ws-outbox/client's send id: kept for the answer, out of what validators and routes see.
    takeClientSendId(event, event.body);
  };
  return { before };
};
