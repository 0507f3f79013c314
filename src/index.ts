// The public API of ws-outbox. See README.md.
export { wsHandler, type WsHandlerOptions, type WsHandlerFn, type WsHandlerExtras, type WsLambdaHandler } from './ws-handler.ts';
export { outbox, outboxDefaults, cleanupOutbox, type OutboxOptions } from '../middleware/outbox.ts';
export { wsJsonBodyParser } from '../middleware/ws-json-body-parser.ts';
export { Outbox } from './outbox/outbox.ts';
export { ConnectionStore, type ConnectionStoreOptions } from './store/connection-store.ts';
export { MemoryStore } from './store/memory-store.ts';
export { NotConnectedError, type Store, type ConnectionInfo, type ReadOptions, type RemoveOptions, type RemoveResult, type Page, type PageOptions, type PageTarget } from './store/store.ts';
export { defaultConnectionShards, shardOf } from './store/shards.ts';
export { OutboxClosedError, PayloadTooLargeError, badRequest } from './errors.ts';
export { maxPayloadBytes } from './outbox/serialize.ts';
export { managementEndpoint } from './management/endpoint.ts';
export { destroyTransports } from './management/clients.ts';
export { fanoutHandler, fanoutDefaults, type FanoutOptions, type FanoutReport } from './fanout/worker.ts';
export type { FanoutMessage } from './fanout/message.ts';
export type { DeliveryReport, FailedDelivery, Message, UnprunedConnection, UnresolvedEntry, WsContext, WsEvent, WsResult } from './types.ts';
