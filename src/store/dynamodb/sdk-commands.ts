// lib-dynamodb's commands, by name, for an SDK DynamoDBDocumentClient given to the store
// (document-client.ts). A module of its own, imported on demand: a function on the default lean
// client never evaluates them, and the static imports let esbuild keep only these seven.
import { BatchGetCommand, BatchWriteCommand, DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';

export const sdkCommands = { BatchGetCommand, BatchWriteCommand, DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand };
