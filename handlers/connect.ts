import { wsHandler } from '../src/index.ts';
import { validName } from './lib/protocol.ts';

/**
 * $connect: registers the connection (with an optional display name from ?name=). A non-2xx
 * rejects the WebSocket upgrade, so a bad name never becomes a connection. Nothing is posted
 * here: the connection does not exist until this returns.
 */
export const handler = wsHandler(async (event, context) => {
  const name = validName(event.queryStringParameters?.name);
  await context.store.connect(event.requestContext.connectionId, { name });
  return { statusCode: 200 };
});
