import { createError } from '@middy/util';
import type { WsEvent } from 'ws-outbox';

/**
 * What the example's authorizer (handlers/authorize.ts) puts in its context. API Gateway hands it
 * to every route of the connection as strings, beside principalId (the user id, the JWT's `sub`).
 */
export type ChatAuthorizer = {
  /** The verified display name (the chat's safe set). */
  name: string;
  /** "true" when the token carries the broadcast claim (chat:broadcast). */
  broadcast: string;
};

export interface Identity {
  userId: string;
  name: string;
  /** May send to everyone (`{"action":"send"}` without a room). */
  canBroadcast: boolean;
}

/**
 * The verified identity of the caller. Never from the message: only what the $connect authorizer
 * verified. An event without it (an API deployed without the authorizer) is refused, not trusted.
 */
export const identityOf = (event: WsEvent<unknown, ChatAuthorizer>): Identity => {
  const authorizer = event.requestContext.authorizer;
  if (authorizer?.principalId === undefined || authorizer.name === undefined) {
    throw createError(401, 'this connection has no verified identity (the API needs its $connect authorizer)');
  }
  return { userId: authorizer.principalId, name: authorizer.name, canBroadcast: authorizer.broadcast === 'true' };
};
