import { wsHandler } from 'ws-outbox';
import { identityOf, type ChatAuthorizer } from './lib/identity.ts';

/**
 * $connect: registers the connection under its verified user (for toUser) with the display name,
 * both from the authorizer (handlers/authorize.ts), which ran first and refused bad tokens.
 * Nothing is posted here: the connection does not exist until this returns.
 */
export const handler = wsHandler<unknown, ChatAuthorizer>(async (event, context) => {
  const { userId, name } = identityOf(event);
  await context.store.connect(event.requestContext.connectionId, { name, userId });
  return { statusCode: 200 };
});
