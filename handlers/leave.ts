import { chatHandler } from './lib/chat-handler.ts';
import { identityOf } from './lib/identity.ts';
import { eventId, validObject, validRoom } from './lib/protocol.ts';

/** {"action":"leave","room":"R"}: the members of R and the leaver get "left" with its name. */
export const handler = chatHandler(async (event, context) => {
  const { name } = identityOf(event);
  const room = validRoom(validObject(event.body).room);
  const connectionId = event.requestContext.connectionId;
  await context.store.leave(connectionId, room);
  const left = { type: 'left', id: eventId(), room, connectionId, name };
  context.outbox.toRoom(room, left);
  context.outbox.send(connectionId, left);
  return { statusCode: 200 };
});
