import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createLiteDocumentClient, type DocumentClient } from '../../src/store/dynamodb/document-client.ts';
import { localCredentials, startDynamo } from '../../packages/gateway/src/dynamodb.ts';
import { createTableInput, loadTemplate, tableOf } from '../../packages/gateway/src/template.ts';

export interface DynaliteHandle {
  endpoint: string;
  tableName: string;
  client: DynamoDBClient;
  documentClient: DynamoDBDocumentClient;
  /** The store's lean client (ws-outbox's own DynamoDB JSON client) on the same server. */
  leanClient: DocumentClient;
  /** The client a store suite runs on: the SDK's DynamoDBDocumentClient, or the lean one. */
  storeClient(kind: StoreClientKind): DynamoDBDocumentClient | DocumentClient;
  stop(): Promise<void>;
}

/** The store's two DynamoDB paths; its suites run on both (describe.each(storeClientKinds)). */
export const storeClientKinds = ['sdk', 'lean'] as const;
export type StoreClientKind = (typeof storeClientKinds)[number];

// The table as the test fixtures' template defines it (the store's key schema and TTL attribute);
// test/app checks that the app's own template.yaml agrees with the store.
const templateTable = tableOf(loadTemplate(new URL('../fixtures/template.yaml', import.meta.url).pathname));

/** A real DynamoDB-protocol server (the local gateway's dynalite) on 127.0.0.1, a free port, with the table created. */
export const startDynalite = async (tableName = 'ws-outbox-test'): Promise<DynaliteHandle> => {
  const dynamo = await startDynamo({ port: 0 });
  const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: localCredentials });
  await client.send(new CreateTableCommand(createTableInput(templateTable, tableName) as never));
  const documentClient = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const leanClient = createLiteDocumentClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: localCredentials });
  return {
    endpoint: dynamo.endpoint,
    tableName,
    client,
    documentClient,
    leanClient,
    storeClient: (kind) => (kind === 'sdk' ? documentClient : leanClient),
    stop: async () => {
      client.destroy();
      leanClient.destroy();
      await dynamo.stop();
    },
  };
};
