import { wsHandler } from '../src/index.ts';
import { eventId, validObject, validRoom, validText } from './lib/protocol.ts';

/**
 * {"action":"send","room":"R","text":"…"}: every member of R, the sender included.
 * {"action":"send","text":"…"}: every connected client.
 */
export const handler = wsHandler(async (event, context) => {
  const body = validObject(event.body);
  const text = validText(body.text);
  const from = event.requestContext.connectionId;
  if (body.room === undefined) {
    context.outbox.toAll({ type: 'message', id: eventId(), from, text });
    return { statusCode: 200 };
  }
  const room = validRoom(body.room);
  const message = { type: 'message', id: eventId(), room, from, text };
  // The sender is addressed directly too (a room read can lag its own join); the same object, so
  // the same id, and one copy if the room read finds the sender as well.
  context.outbox.toRoom(room, message);
  context.outbox.send(from, message);
  return { statusCode: 200 };
});
