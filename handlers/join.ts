import { chatHandler } from './lib/chat-handler.ts';
import { identityOf } from './lib/identity.ts';
import { checkJoinCaps } from './lib/limits.ts';
import { eventId, validObject, validRoom } from './lib/protocol.ts';

/** {"action":"join","room":"R"}: every member of R, the joiner included, gets "joined" with its name. */
export const handler = chatHandler(async (event, context) => {
  const { name } = identityOf(event);
  const room = validRoom(validObject(event.body).room);
  const connectionId = event.requestContext.connectionId;
  await checkJoinCaps(context.store, connectionId, room);
  await context.store.join(connectionId, room);
  const joined = { type: 'joined', id: eventId(), room, connectionId, name };
  // The joiner is addressed directly as well as through the room: a room read can lag a fresh
  // write, and the outbox sends one copy to an id reached both ways (one object, so one id and
  // identical bytes: a second eventId() here would make that two different messages).
  context.outbox.toRoom(room, joined);
  context.outbox.send(connectionId, joined);
  return { statusCode: 200 };
});
