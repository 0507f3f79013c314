// The same work as sdk-app.ts and lite-app.ts (one DynamoDB read, one PostToConnection) on
// ws-outbox's own lean parts, without the outbox: the store's DynamoDB document client and the
// signed @connections transport. Against lite-app.ts it compares the two light clients alone.
import { createSignedTransport } from '../../src/management/signed-transport.ts';
import { createLiteDocumentClient, GetCommand } from '../../src/store/dynamodb/document-client.ts';
import { routeOf, type ColdEvent } from './event.ts';

const dynamo = createLiteDocumentClient();
let connections: ReturnType<typeof createSignedTransport> | undefined;

export const handler = async (event: ColdEvent) => {
  const { connectionId } = event.requestContext;
  const out = await dynamo.send(new GetCommand({ TableName: process.env.TABLE_NAME, Key: { pk: 'connections#0', sk: connectionId }, ConsistentRead: true }));
  const rooms = [...((out.Item?.rooms as Set<string> | undefined) ?? [])];
  connections ??= createSignedTransport({
    endpoint: process.env.AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI || routeOf(event),
    region: process.env.AWS_REGION ?? 'us-east-1',
  });
  const body = new TextEncoder().encode(JSON.stringify({ type: 'message', rooms, text: JSON.parse(event.body ?? '{}').text }));
  await connections.post(connectionId, body, AbortSignal.timeout(3000));
  return { statusCode: 200 };
};
