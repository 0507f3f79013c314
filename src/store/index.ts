// `ws-outbox/store`: the connection store and what works with its data: the DynamoDB store and its
// in-memory twin, the sharded connection index, and the rate limiters.
export { ConnectionStore, type ConnectionStoreOptions } from './connection-store.ts';
// Its DynamoDB clients: the lean default, and the SDK's (for those who want it).
export {
  createLiteDocumentClient,
  sdkDocumentClient,
  type DocumentClient,
  DocumentCommand,
  GetCommand,
  PutCommand,
  UpdateCommand,
  DeleteCommand,
  QueryCommand,
  BatchGetCommand,
  BatchWriteCommand,
} from './dynamodb/document-client.ts';
export { createDocumentClient } from './dynamodb/sdk-client.ts';
export { DynamoDBServiceError, dynamoEndpoint, type DynamoJsonClientOptions } from './dynamodb/json-client.ts';
export { MemoryStore } from './memory-store.ts';
export {
  NotConnectedError,
  type Store,
  type ConnectionDetails,
  type ConnectionInfo,
  type ReadOptions,
  type RemoveOptions,
  type RemoveResult,
  type Page,
  type PageOptions,
  type PageTarget,
} from './store.ts';
export { connectionKey, membershipKey, connectionsPartition, roomPartition } from './keys.ts';
export { defaultConnectionShards, connectionShards, shardOf } from './shards.ts';
export { DynamoRateLimiter, MemoryRateLimiter, type DynamoRateLimiterOptions, type RateLimiter, type RateRule, type RateVerdict } from './rate-limit.ts';
export { maxUserIdLength } from './users.ts';
export { RoomLog, defaultWindowSeconds, roomStream, userStream, type MessageLog, type RoomLogOptions, type LogEntry, type LogRead } from './room-log.ts';
export { SessionStore, sessionKeyOf, type Session, type Sessions, type SessionCapable, type SessionStoreOptions } from './sessions.ts';
export { MemorySessions, MemoryRoomLog } from './memory-sessions.ts';
