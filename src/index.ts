// The public API of ws-outbox (`import … from 'ws-outbox'`): the handler surface. Everything else
// has a subpath of its own: `ws-outbox/store`, `ws-outbox/transport`, `ws-outbox/testing`,
// `ws-outbox/util`. See README.md and docs/.
export {
  wsHandler,
  type WsHandlerOptions,
  type WsHandlerFn,
  type WsHandlerExtras,
  type WsLambdaHandler,
  type WsRequest,
  type WsMiddlewareFn,
} from './ws-handler.ts';
export { outbox, outboxDefaults, cleanupOutbox, type OutboxOptions } from '../middleware/outbox.ts';
export { wsJsonBodyParser } from '../middleware/ws-json-body-parser.ts';
export { rateLimit, rateLimitDefaults, type RateLimitOptions } from '../middleware/rate-limit.ts';
export { fanoutHandler, fanoutDefaults, type FanoutOptions, type FanoutReport } from './fanout/worker.ts';
// Sessions that outlive connections (the server side of ws-outbox/client): the session route and $disconnect.
export { sessionHandler, userIdOf } from './sessions/handler.ts';
export { resumeSession, type ResumeRequest, type SessionReply, type ResumeInput } from './sessions/resume.ts';
export { disconnectSession, closedExplicitly, type DisconnectOutcome, type DisconnectEvent } from './sessions/disconnect.ts';
export type { StreamReset, ResetReason } from './sessions/replay.ts';
// The store a handler's wsHandler takes (the design's `import { wsHandler, outbox, ConnectionStore }`).
export { ConnectionStore, type ConnectionStoreOptions } from './store/connection-store.ts';
export { MemoryStore } from './store/memory-store.ts';
export type { Store } from './store/store.ts';
export { WsOutboxError, OutboxClosedError, PayloadTooLargeError, badRequest } from './errors.ts';
export { maxPayloadBytes } from './outbox/serialize.ts';
export type { FanoutMessage } from './fanout/message.ts';
export type { BackoffOptions } from './outbox/backoff.ts';
export type { ReportMetrics } from './outbox/metrics.ts';
export type { ReportLog, ReportLogger } from './outbox/report.ts';
export type {
  AuthorizerContext,
  DeliveryReport,
  Except,
  FailedDelivery,
  JsonValue,
  Message,
  UnprunedConnection,
  UnresolvedEntry,
  WsAuthorizer,
  WsContext,
  WsEvent,
  WsOutbox,
  WsResult,
} from './types.ts';
