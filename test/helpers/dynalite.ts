import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { localCredentials, startDynamo } from '../../packages/gateway/src/dynamodb.ts';
import { createTableInput, loadTemplate, tableOf } from '../../packages/gateway/src/template.ts';

export interface DynaliteHandle {
  endpoint: string;
  tableName: string;
  client: DynamoDBClient;
  documentClient: DynamoDBDocumentClient;
  stop(): Promise<void>;
}

// The table as the test fixtures' template defines it (the store's key schema and TTL attribute);
// test/app checks that the app's own template.yaml agrees with the store.
const templateTable = tableOf(loadTemplate(new URL('../fixtures/template.yaml', import.meta.url).pathname));

/** A real DynamoDB-protocol server (the local gateway's dynalite) on 127.0.0.1, a free port, with the table created. */
export const startDynalite = async (tableName = 'ws-outbox-test'): Promise<DynaliteHandle> => {
  const dynamo = await startDynamo({ port: 0 });
  const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: localCredentials });
  await client.send(new CreateTableCommand(createTableInput(templateTable, tableName) as never));
  const documentClient = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return {
    endpoint: dynamo.endpoint,
    tableName,
    client,
    documentClient,
    stop: async () => {
      client.destroy();
      await dynamo.stop();
    },
  };
};
