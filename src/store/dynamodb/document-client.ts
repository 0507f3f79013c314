// The DynamoDB calls of the store, written once against a small document client: commands named
// and shaped as @aws-sdk/lib-dynamodb's (plain JavaScript values in, plain values out; Sets for
// string sets), with two clients behind them:
//   - the lean one (createLiteDocumentClient): @aws-sdk/util-dynamodb's marshalling over
//     json-client.ts. The default: a cold function never evaluates the SDK's DynamoDB client.
//   - any DynamoDBDocumentClient (the SDK's, as the store has always accepted): the same command
//     is rebuilt as lib-dynamodb's and sent through it; lib-dynamodb is imported on first use.
// The store's tests run against both (test/framework/integration/document-clients.ts).
import { marshall, unmarshall, type NativeAttributeValue } from '@aws-sdk/util-dynamodb';
import type {
  BatchGetCommandInput,
  BatchGetCommandOutput,
  BatchWriteCommandInput,
  BatchWriteCommandOutput,
  DeleteCommandInput,
  DeleteCommandOutput,
  DynamoDBDocumentClient,
  GetCommandInput,
  GetCommandOutput,
  PutCommandInput,
  PutCommandOutput,
  QueryCommandInput,
  QueryCommandOutput,
  UpdateCommandInput,
  UpdateCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { DynamoJsonClient, type DynamoJsonClientOptions } from './json-client.ts';

type Operation = 'GetItem' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'Query' | 'BatchGetItem' | 'BatchWriteItem';

/** A command: the operation and its document input, as lib-dynamodb's command of the same name takes it. */
export abstract class DocumentCommand<Input, Output> {
  abstract readonly operation: Operation;
  /** lib-dynamodb's name for it, to rebuild it for an SDK client. */
  abstract readonly sdkName: string;
  declare readonly output: Output; // type only
  readonly input: Input;
  constructor(input: Input) {
    this.input = input;
  }
}

export class GetCommand extends DocumentCommand<GetCommandInput, GetCommandOutput> {
  readonly operation = 'GetItem';
  readonly sdkName = 'GetCommand';
}
export class PutCommand extends DocumentCommand<PutCommandInput, PutCommandOutput> {
  readonly operation = 'PutItem';
  readonly sdkName = 'PutCommand';
}
export class UpdateCommand extends DocumentCommand<UpdateCommandInput, UpdateCommandOutput> {
  readonly operation = 'UpdateItem';
  readonly sdkName = 'UpdateCommand';
}
export class DeleteCommand extends DocumentCommand<DeleteCommandInput, DeleteCommandOutput> {
  readonly operation = 'DeleteItem';
  readonly sdkName = 'DeleteCommand';
}
export class QueryCommand extends DocumentCommand<QueryCommandInput, QueryCommandOutput> {
  readonly operation = 'Query';
  readonly sdkName = 'QueryCommand';
}
export class BatchGetCommand extends DocumentCommand<BatchGetCommandInput, BatchGetCommandOutput> {
  readonly operation = 'BatchGetItem';
  readonly sdkName = 'BatchGetCommand';
}
export class BatchWriteCommand extends DocumentCommand<BatchWriteCommandInput, BatchWriteCommandOutput> {
  readonly operation = 'BatchWriteItem';
  readonly sdkName = 'BatchWriteCommand';
}

/** What the store needs from a DynamoDB client. */
export interface DocumentClient {
  send<I, O>(command: DocumentCommand<I, O>, options?: { abortSignal?: AbortSignal }): Promise<O>;
  /** Closes its sockets (tests and tools). */
  destroy(): void;
}

type Item = Record<string, NativeAttributeValue>;
type Wire = Record<string, unknown>;
// As createDocumentClient's: an undefined attribute (an absent optional field) is left out.
const toWire = (item: Item | undefined) => (item === undefined ? undefined : marshall(item, { removeUndefinedValues: true }));
const mapValues = <A, B>(record: Record<string, A> | undefined, f: (value: A) => B): Record<string, B> | undefined =>
  record === undefined ? undefined : Object.fromEntries(Object.entries(record).map(([k, v]) => [k, f(v)]));

type WriteRequest = { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } };
const writeRequest = (convert: (item: never) => unknown) => (request: WriteRequest) =>
  request.PutRequest
    ? { PutRequest: { Item: convert(request.PutRequest.Item as never) } }
    : { DeleteRequest: { Key: convert(request.DeleteRequest!.Key as never) } };

/** The input in DynamoDB's wire format: the item, key and values marshalled, the rest as given. */
const inputOf = (operation: Operation, input: Record<string, unknown>): Wire => {
  const wire: Wire = { ...input };
  for (const field of ['Item', 'Key', 'ExclusiveStartKey', 'ExpressionAttributeValues'] as const) {
    if (input[field] !== undefined) wire[field] = toWire(input[field] as Item);
  }
  if (operation === 'BatchWriteItem')
    wire.RequestItems = mapValues(input.RequestItems as Record<string, WriteRequest[]>, (requests) => requests.map(writeRequest(toWire)));
  if (operation === 'BatchGetItem') {
    wire.RequestItems = mapValues(input.RequestItems as Record<string, { Keys: Item[] }>, (get) => ({ ...get, Keys: get.Keys.map((key) => toWire(key)) }));
  }
  return wire;
};

/** The output in document form: items, keys and attributes unmarshalled (binary ones decoded first when the answer has any). */
const outputOf = (operation: Operation, output: Wire, binary: boolean): Wire => {
  const fromWire = (item: Wire | undefined) =>
    item === undefined ? undefined : unmarshall((binary ? mapValues(item as Record<string, AttributeValue>, decodeBinary) : item) as never);
  const doc: Wire = { ...output };
  for (const field of ['Item', 'Attributes', 'LastEvaluatedKey'] as const) if (output[field] !== undefined) doc[field] = fromWire(output[field] as Wire);
  if (Array.isArray(output.Items)) doc.Items = (output.Items as Wire[]).map((item) => fromWire(item));
  if (operation === 'BatchGetItem') {
    doc.Responses = mapValues(output.Responses as Record<string, Wire[]> | undefined, (items) => items.map((item) => fromWire(item)));
    doc.UnprocessedKeys = mapValues(output.UnprocessedKeys as Record<string, { Keys: Wire[] }> | undefined, (get) => ({
      ...get,
      Keys: get.Keys.map((key) => fromWire(key)),
    }));
  }
  if (operation === 'BatchWriteItem')
    doc.UnprocessedItems = mapValues(output.UnprocessedItems as Record<string, WriteRequest[]> | undefined, (requests) => requests.map(writeRequest(fromWire)));
  return doc;
};

// Binary attributes travel as base64 text on the wire (B, and each member of BS), as bytes in documents.
type AttributeValue = { B?: unknown; BS?: unknown[]; L?: AttributeValue[]; M?: Record<string, AttributeValue> };
const decodeBinary = (value: AttributeValue): AttributeValue => {
  if (typeof value.B === 'string') return { B: new Uint8Array(Buffer.from(value.B, 'base64')) };
  if (Array.isArray(value.BS)) return { BS: value.BS.map((b) => new Uint8Array(Buffer.from(b as string, 'base64'))) };
  if (Array.isArray(value.L)) return { L: value.L.map(decodeBinary) };
  if (value.M !== undefined) return { M: mapValues(value.M, decodeBinary)! };
  return value;
};
function encodeBinary(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  return raw instanceof Uint8Array ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') : value;
}

/** A command that is not ours (lib-dynamodb's, say) is refused with what to import instead. */
const ours = (command: unknown): DocumentCommand<unknown, unknown> => {
  if (command instanceof DocumentCommand) return command;
  const name = (command as { constructor?: { name?: string } })?.constructor?.name ?? typeof command;
  throw new TypeError(
    `the store's lean DynamoDB client takes ws-outbox's commands (import { ${/Command$/.test(name) ? name : 'PutCommand'} } from 'ws-outbox/store': ` +
      `the same names and inputs as @aws-sdk/lib-dynamodb's), not a ${name}; or give the store an SDK DynamoDBDocumentClient`,
  );
};

/** The lean document client: DynamoDB's JSON protocol without the SDK's client (json-client.ts). */
export const createLiteDocumentClient = (options: DynamoJsonClientOptions = {}): DocumentClient => {
  const client = new DynamoJsonClient(options);
  return {
    async send(anyCommand, sendOptions) {
      const command = ours(anyCommand);
      const input = inputOf(command.operation, command.input as Record<string, unknown>);
      const output = await client.call<Wire>(command.operation, input, sendOptions?.abortSignal, { replacer: encodeBinary });
      // Only answers that hold binary attributes pay for decoding them.
      return outputOf(command.operation, output.value, output.binary) as never;
    },
    destroy: () => client.destroy(),
  };
};

/** An SDK DynamoDBDocumentClient behind the same interface: each command rebuilt as lib-dynamodb's (sdk-commands.ts, loaded on first use). */
export const sdkDocumentClient = (client: DynamoDBDocumentClient): DocumentClient => ({
  async send(command, sendOptions) {
    // lib-dynamodb's own commands (code written for the SDK client) go through as they are.
    if (!(command instanceof DocumentCommand)) return client.send(command as never, sendOptions) as never;
    const { sdkCommands } = await import('./sdk-commands.ts');
    const Command = sdkCommands[command.sdkName as keyof typeof sdkCommands] as unknown as new (
      input: unknown,
    ) => Parameters<DynamoDBDocumentClient['send']>[0];
    return client.send(new Command(command.input), sendOptions) as never;
  },
  destroy: () => client.destroy(),
});

/** The store's client: a DocumentClient as it is, a DynamoDBDocumentClient (the SDK's) adapted. */
export const documentClientOf = (client: DocumentClient | DynamoDBDocumentClient): DocumentClient =>
  'middlewareStack' in client ? sdkDocumentClient(client as DynamoDBDocumentClient) : (client as DocumentClient);
