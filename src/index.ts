// The public API of ws-outbox (`import … from 'ws-outbox'`). See README.md.
export {
  wsHandler,
  type WsHandlerOptions, type WsHandlerFn, type WsHandlerExtras, type WsLambdaHandler, type WsRequest, type WsMiddlewareFn,
} from './ws-handler.ts';
export { outbox, outboxDefaults, cleanupOutbox, type OutboxOptions } from '../middleware/outbox.ts';
export { wsJsonBodyParser } from '../middleware/ws-json-body-parser.ts';
export { rateLimit, rateLimitDefaults, type RateLimitOptions } from '../middleware/rate-limit.ts';
export { DynamoRateLimiter, MemoryRateLimiter, type DynamoRateLimiterOptions, type RateLimiter, type RateRule, type RateVerdict } from './store/rate-limit.ts';
export { ConnectionStore, createDocumentClient, type ConnectionStoreOptions } from './store/connection-store.ts';
export { MemoryStore } from './store/memory-store.ts';
export {
  NotConnectedError,
  type Store, type ConnectionDetails, type ConnectionInfo, type ReadOptions, type RemoveOptions, type RemoveResult, type Page, type PageOptions, type PageTarget,
} from './store/store.ts';
export { defaultConnectionShards, shardOf } from './store/shards.ts';
export { RoomLog, defaultWindowSeconds, type RoomLogOptions, type LogEntry, type LogRead } from './store/room-log.ts';
export { SessionStore, type Session, type SessionStoreOptions } from './store/sessions.ts';
export { sessionHandler, userIdOf } from './sessions/handler.ts';
export { resumeSession, type ResumeRequest, type SessionReply, type ResumeInput } from './sessions/resume.ts';
export { disconnectSession, closedExplicitly, type DisconnectOutcome, type DisconnectEvent } from './sessions/disconnect.ts';
export type { StreamReset, ResetReason } from './sessions/replay.ts';
export { OutboxClosedError, PayloadTooLargeError, badRequest } from './errors.ts';
export { maxPayloadBytes } from './outbox/serialize.ts';
export { managementEndpoint } from './management/endpoint.ts';
export { destroyTransports, type TransportKind, type TransportFactory } from './management/clients.ts';
export { TransportError, type Transport, type FailureKind, type DeliveryFailure } from './management/transport.ts';
export { fanoutHandler, fanoutDefaults, type FanoutOptions, type FanoutReport } from './fanout/worker.ts';
export type { FanoutMessage } from './fanout/message.ts';
export type { TransportOptions } from './management/sdk-transport.ts';
export type { BackoffOptions } from './outbox/backoff.ts';
export type { ReportMetrics } from './outbox/metrics.ts';
export type { ReportLog, ReportLogger } from './outbox/report.ts';
export type {
  AuthorizerContext, DeliveryReport, Except, FailedDelivery, JsonValue, Message, UnprunedConnection, UnresolvedEntry, WsAuthorizer, WsContext, WsEvent, WsOutbox, WsResult,
} from './types.ts';
