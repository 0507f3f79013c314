import { wsHandler } from '../src/index.ts';

/**
 * $disconnect: removes the connection and its room memberships. API Gateway calls it on a best
 * effort basis only, which is why rows also leave on 410 (prune) and by TTL.
 */
export const handler = wsHandler(async (event, context) => {
  await context.store.disconnect(event.requestContext.connectionId);
  return { statusCode: 200 };
});
