import { wsHandler } from 'ws-outbox';
import { eventId } from './lib/protocol.ts';
import { identityOf, type ChatAuthorizer } from './lib/identity.ts';

/**
 * $disconnect: removes the connection, its room memberships and its user-index row, and tells the
 * rooms it was in that it left. API Gateway calls it on a best effort basis only, which is why rows
 * also leave on 410 (prune) and by TTL.
 */
export const handler = wsHandler<unknown, ChatAuthorizer>(async (event, context) => {
  const connectionId = event.requestContext.connectionId;
  const { name } = identityOf(event);
  const rooms = await context.store.roomsOf(connectionId);
  await context.store.disconnect(connectionId);
  for (const room of rooms) context.outbox.toRoom(room, { type: 'left', id: eventId(), room, connectionId, name });
  return { statusCode: 200 };
});
