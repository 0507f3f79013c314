// ws-outbox/client: the browser and Node (22+) client of a ws-outbox app. No runtime dependencies.
export {
  WsOutboxClient,
  SendQueueFullError,
  SendTooLargeError,
  clientDefaults,
  type ClientOptions,
  type ClientEvents,
  type ClientState,
  type SocketLike,
  type SocketFactory,
} from './client.ts';
export { reconnectDelay, backoffDefaults, type ReconnectBackoff } from './backoff.ts';
export { jwtExpiry, type TokenProvider, type TokenResult } from './token.ts';
