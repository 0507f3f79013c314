// The public API of ws-outbox. See README.md.
export { wsHandler, type WsHandlerOptions, type WsHandlerFn, type WsHandlerExtras, type WsLambdaHandler } from './ws-handler.ts';
export { outbox, outboxDefaults, cleanupOutbox, type OutboxOptions } from '../middleware/outbox.ts';
export { wsJsonBodyParser } from '../middleware/ws-json-body-parser.ts';
export { rateLimit, rateLimitDefaults, type RateLimitOptions } from '../middleware/rate-limit.ts';
export { DynamoRateLimiter, MemoryRateLimiter, type DynamoRateLimiterOptions, type RateLimiter, type RateRule, type RateVerdict } from './store/rate-limit.ts';
export { Outbox } from './outbox/outbox.ts';
export { ConnectionStore, type ConnectionStoreOptions } from './store/connection-store.ts';
export { MemoryStore } from './store/memory-store.ts';
export { NotConnectedError, type Store, type ConnectionDetails, type ConnectionInfo, type ReadOptions, type RemoveOptions, type RemoveResult } from './store/store.ts';
export { OutboxClosedError, PayloadTooLargeError, badRequest } from './errors.ts';
export { maxPayloadBytes } from './outbox/serialize.ts';
export { managementEndpoint } from './management/endpoint.ts';
export { destroyTransports } from './management/clients.ts';
export type { AuthorizerContext, DeliveryReport, FailedDelivery, Message, UnprunedConnection, UnresolvedEntry, WsAuthorizer, WsContext, WsEvent, WsResult } from './types.ts';
