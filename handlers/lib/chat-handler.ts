import { rateLimit, wsHandler, type WsHandlerFn, type WsLambdaHandler } from 'ws-outbox';
import type { ChatAuthorizer } from './identity.ts';
import { limits } from './limits.ts';

/**
 * A chat route: wsHandler, typed with the authorizer's context, behind the per-connection rate
 * limit (a client past it gets {"type":"error","message":"slow down"} and the route does not run).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const chatHandler = <TBody = Record<string, any>>(fn: WsHandlerFn<TBody, ChatAuthorizer>): WsLambdaHandler =>
  wsHandler<TBody, ChatAuthorizer>(fn).use(rateLimit({ ratePerSecond: limits.ratePerSecond, burst: limits.burst }));
