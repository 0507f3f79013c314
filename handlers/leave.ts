import { wsHandler } from '../src/index.ts';
import { eventId, validObject, validRoom } from './lib/protocol.ts';

/** {"action":"leave","room":"R"}: the members of R and the leaver get "left". */
export const handler = wsHandler(async (event, context) => {
  const room = validRoom(validObject(event.body).room);
  const connectionId = event.requestContext.connectionId;
  await context.store.leave(connectionId, room);
  const left = { type: 'left', id: eventId(), room, connectionId };
  context.outbox.toRoom(room, left);
  context.outbox.send(connectionId, left);
  return { statusCode: 200 };
});
