// The aws-lite app of the cold-start bench: the same work as sdk-app.ts (one DynamoDB read, one
// PostToConnection) with @aws-lite/client and its DynamoDB and API Gateway Management plugins.
// aws-lite reads one endpoint per client (AWS_ENDPOINT_URL, not the per-service variables), so
// each service gets its own client, with its override passed in.
import awsLite from '@aws-lite/client';
// @ts-expect-error: the plugins ship no types
import apigatewaymanagementapi from '@aws-lite/apigatewaymanagementapi';
// @ts-expect-error: the plugins ship no types
import dynamodb from '@aws-lite/dynamodb';
import { routeOf, type ColdEvent } from './event.ts';

// The plugins' methods, as far as this app uses them (they ship no types).
type Call = (input: Record<string, unknown>) => Promise<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface LiteClients {
  DynamoDB: { GetItem: Call };
  ApiGatewayManagementApi: { PostToConnection: Call };
}

const endpointOf = (value: string | undefined) => (value ? { endpoint: value } : {});
// Made at init (awsLite() is async: it resolves credentials and region there).
const dynamo = (await awsLite({ plugins: [dynamodb], ...endpointOf(process.env.AWS_ENDPOINT_URL_DYNAMODB) })) as unknown as LiteClients;
let connections: LiteClients | undefined;

export const handler = async (event: ColdEvent) => {
  const { connectionId } = event.requestContext;
  const out = await dynamo.DynamoDB.GetItem({ TableName: process.env.TABLE_NAME, Key: { pk: 'connections#0', sk: connectionId }, ConsistentRead: true });
  const rooms = [...(out.Item?.rooms ?? [])];
  // The plugin takes the API's URL per call (ApiUrl), so the client needs no endpoint of its own.
  connections ??= (await awsLite({ plugins: [apigatewaymanagementapi] })) as unknown as LiteClients;
  const ApiUrl = process.env.AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI || routeOf(event);
  await connections.ApiGatewayManagementApi.PostToConnection({
    ApiUrl,
    ConnectionId: connectionId,
    Data: { type: 'message', rooms, text: JSON.parse(event.body ?? '{}').text },
  });
  return { statusCode: 200 };
};
