import { createError } from '@middy/util';
import { chatHandler } from './lib/chat-handler.ts';
import { identityOf } from './lib/identity.ts';
import { eventId, validObject, validRoom, validText } from './lib/protocol.ts';

/**
 * {"action":"send","room":"R","text":"…"}: every member of R, the sender included; members only.
 * {"action":"send","text":"…"}: every connected client; only for users with the broadcast claim.
 * `from` is the sender's connection and verified name, never anything the client wrote.
 */
export const handler = chatHandler(async (event, context) => {
  const { name, canBroadcast } = identityOf(event);
  const body = validObject(event.body);
  const text = validText(body.text);
  const connectionId = event.requestContext.connectionId;
  const from = { id: connectionId, name };
  if (body.room === undefined) {
    // One message here costs one post per connection of the whole app.
    if (!canBroadcast) throw createError(403, 'sending to everyone needs the chat:broadcast permission: send to a room you joined');
    context.outbox.toAll({ type: 'message', id: eventId(), from, text });
    return { statusCode: 200 };
  }
  const room = validRoom(body.room);
  if (!(await context.store.roomsOf(connectionId)).includes(room)) {
    throw createError(403, `you are not a member of room "${room}": join it first`);
  }
  const message = { type: 'message', id: eventId(), room, from, text };
  // The sender is addressed directly too (a room read can lag its own join); the same object, so
  // the same id, and one copy if the room read finds the sender as well.
  context.outbox.toRoom(room, message);
  context.outbox.send(connectionId, message);
  return { statusCode: 200 };
});
