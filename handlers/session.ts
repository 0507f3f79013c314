import { rateLimit, sessionHandler } from 'ws-outbox';
import { limits } from './lib/limits.ts';

/**
 * resume, history and ping: the session route of ws-outbox/client (README "Reconnects and
 * resume"). A client's first frame on every connection is a resume: a new session, or the old one
 * with its rooms and what it missed. history fetches a gap in one room; ping keeps the socket
 * under API Gateway's idle timeout. Behind the same per-connection rate limit as the chat routes.
 */
export const handler = sessionHandler().use(rateLimit({ ratePerSecond: limits.ratePerSecond, burst: limits.burst }));
