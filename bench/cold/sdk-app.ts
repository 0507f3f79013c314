// The plain AWS SDK v3 app of the cold-start bench: what a careful developer writes without
// ws-outbox for a chat `send`: one DynamoDB read (the sender's rooms) and one PostToConnection.
// Clients at module scope, as the AWS docs advise, so init builds them.
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { routeOf, type ColdEvent } from './event.ts';

const dynamo = new DynamoDBClient({});
let connections: ApiGatewayManagementApiClient | undefined;

export const handler = async (event: ColdEvent) => {
  const { connectionId } = event.requestContext;
  const out = await dynamo.send(
    new GetItemCommand({ TableName: process.env.TABLE_NAME, Key: { pk: { S: 'connections#0' }, sk: { S: connectionId } }, ConsistentRead: true }),
  );
  const rooms = out.Item?.rooms?.SS ?? [];
  // The endpoint depends on the event (or AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI), so the client is made at the first event.
  connections ??= new ApiGatewayManagementApiClient({ endpoint: process.env.AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI || routeOf(event) });
  await connections.send(
    new PostToConnectionCommand({ ConnectionId: connectionId, Data: JSON.stringify({ type: 'message', rooms, text: JSON.parse(event.body ?? '{}').text }) }),
  );
  return { statusCode: 200 };
};
