import { rateLimit, wsHandler, type WsHandlerFn, type WsLambdaHandler } from 'ws-outbox';
import type { ChatAuthorizer } from './identity.ts';
import { limits } from './limits.ts';

/** The bucket of the verified user: the authorizer's principalId (the token's sub). */
const userKey = (event: { requestContext?: { authorizer?: { principalId?: unknown } } }): string | undefined => {
  const principalId = event.requestContext?.authorizer?.principalId;
  return typeof principalId === 'string' && principalId !== '' ? `user:${principalId}` : undefined;
};

/**
 * A chat route: wsHandler, typed with the authorizer's context, behind the per-connection rate
 * limit and the per-user one (over all the user's connections; both kept in the table, so every
 * instance counts the same). A client past either gets {"type":"error","message":"slow down"} and
 * the route does not run.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const chatHandler = <TBody = Record<string, any>>(fn: WsHandlerFn<TBody, ChatAuthorizer>): WsLambdaHandler =>
  wsHandler<TBody, ChatAuthorizer>(fn)
    .use(rateLimit({ ratePerSecond: limits.ratePerSecond, burst: limits.burst }))
    .use(rateLimit({ ratePerSecond: limits.userRatePerSecond, burst: limits.userBurst, key: userKey, message: 'slow down: your connections together send too fast' }));
