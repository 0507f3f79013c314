import { disconnectSession, wsHandler } from 'ws-outbox';
import { eventId } from './lib/protocol.ts';
import { identityOf, type ChatAuthorizer } from './lib/identity.ts';

/**
 * $disconnect: removes the connection, its room memberships and its user-index row. Its session
 * (if the client began one) ends on an explicit close (1000) and is otherwise kept for the recovery
 * window, so a blip, the idle timeout or the 2-hour cap is not a "left": the client resumes. The
 * rooms hear "left" only when the user really left. API Gateway calls this on a best effort basis
 * only, which is why rows also leave on 410 (prune) and by TTL.
 */
export const handler = wsHandler<unknown, ChatAuthorizer>(async (event, context) => {
  const connectionId = event.requestContext.connectionId;
  const { name } = identityOf(event);
  const { rooms, ended } = await disconnectSession(context.store, event);
  if (ended) for (const room of rooms) context.outbox.toRoom(room, { type: 'left', id: eventId(), room, connectionId, name });
  return { statusCode: 200 };
});
