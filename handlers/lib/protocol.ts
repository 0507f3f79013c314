import { randomUUID } from 'node:crypto';
import { badRequest } from 'ws-outbox';
import { safeName } from './names.ts';

// The chat protocol (README "Chat protocol"): what clients send, and the checks on it.
// Every check throws a 400 whose message is sent back to the caller as {"type":"error"}.

export const maxTextBytes = 8 * 1024;

export const validRoom = (room: unknown): string => {
  if (room === undefined) throw badRequest('missing field "room"');
  if (typeof room !== 'string' || !safeName.test(room)) {
    throw badRequest('"room" must be 1-64 letters, digits, "_", "." or "-"');
  }
  return room;
};


export const validText = (text: unknown): string => {
  if (text === undefined) throw badRequest('missing field "text"');
  if (typeof text !== 'string') throw badRequest('"text" must be a string');
  if (Buffer.byteLength(text) > maxTextBytes) throw badRequest(`"text" is longer than ${maxTextBytes} bytes`);
  return text;
};

/** Message bodies must be JSON objects; anything else (a number, an array) is refused. */
export const validObject = (body: unknown): Record<string, unknown> => {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the message must be a JSON object');
  return body as Record<string, unknown>;
};

/**
 * A fresh id for one outgoing event (message, joined, left). Delivery is at-least-once: a
 * PostToConnection retried after a timeout or a reset may have landed the first time too, so a
 * client can see the same event twice and drops an id it has already shown (README "Chat protocol").
 *
 * Random rather than derived from the request id: request ids repeat wherever events are replayed
 * (the fixed ids in events/*.json, a test harness), and a repeated id would make a client silently
 * drop a genuinely new message. Dedupe needs uniqueness more than it needs determinism.
 *
 * One id per event, not per recipient: build the event once and pass that same object to every
 * outbox call. Every recipient then gets the same bytes, and the outbox's "same payload, same
 * connection, one send" rule still collapses a recipient reached both through a room and directly.
 */
export const eventId = (): string => randomUUID();
