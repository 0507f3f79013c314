// Two apps written without ws-outbox (test/fixtures/apps/) run with no edit, with real `ws`
// clients: simple-chat (CommonJS, raw AWS::ApiGatewayV2 wired with Join/Sub/GetAtt, the table
// named by a parameter, Scan, the callback URL https://${domainName}/${stage}) and ts-rooms (ESM
// TypeScript built from SAM's esbuild metadata, AWS::Serverless::WebSocketApi, parameters
// overridden as with --parameter-overrides, the callback URL from the API id). Their functions
// reach AWS's host names unmodified (DynamoDB, SQS, @connections), over TLS, and are held to their
// template policies.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { DescribeTableCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import { sqsClientFor } from '../../src/sqs.ts';
import type { InvocationReport } from '../../src/websocket-api.ts';
import { TestClient, capturedLog, eventually } from './support.ts';

const quiet = process.env.GATEWAY_LOG === undefined;

const db = (gateway: Gateway) =>
  new DynamoDBClient({ endpoint: gateway.dynamodbEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });

const tableItems = async (gateway: Gateway, table: string): Promise<number> => {
  const client = db(gateway);
  try {
    return (await client.send(new ScanCommand({ TableName: table }))).Count ?? 0;
  } finally {
    client.destroy();
  }
};

describe('simple-chat: CommonJS, raw ApiGatewayV2, TableName parameter, Scan, https://${domainName}/${stage}', () => {
  let gateway: Gateway;
  const reports: InvocationReport[] = [];
  const clients: TestClient[] = [];

  beforeAll(async () => {
    gateway = await startGateway({ template: 'test/fixtures/apps/simple-chat/template.yaml', port: 0, dynamodbPort: 0, quiet });
    gateway.events.on('invocation', (r: InvocationReport) => reports.push(r));
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await gateway?.stop();
  });

  test('routes from Join, Sub and GetAtt targets; the stage of its AWS::ApiGatewayV2::Stage; the table named by the parameter', async () => {
    expect(Object.fromEntries(gateway.model.routes)).toEqual({
      $connect: 'OnConnectFunction',
      $disconnect: 'OnDisconnectFunction',
      sendmessage: 'SendMessageFunction',
    });
    expect(gateway.stage).toBe('Prod');
    expect(gateway.tableName).toBe('simplechat_connections');
    const client = db(gateway);
    const table = await client.send(new DescribeTableCommand({ TableName: 'simplechat_connections' }));
    client.destroy();
    expect(table.Table?.KeySchema).toEqual([{ AttributeName: 'connectionId', KeyType: 'HASH' }]);
  });

  test('three clients chat: $connect rows, a Scan, posts through https://<domainName>/<stage>, $disconnect removes the row', async () => {
    for (let i = 0; i < 3; i++) clients.push(await TestClient.open(`${gateway.wsUrl}/Prod`));
    expect(await tableItems(gateway, 'simplechat_connections')).toBe(3);
    clients[0]!.send({ action: 'sendmessage', data: 'hello everyone' });
    for (const c of clients) await c.waitFor((d) => d === 'hello everyone');
    await eventually(() => reports.some((r) => r.route === 'sendmessage'), 'the sendmessage invocation returned');
    expect(reports.find((r) => r.route === 'sendmessage')).toMatchObject({ functionName: 'SendMessageFunction', status: 'ok', statusCode: 200 });
    await clients.pop()!.close();
    await eventually(async () => (await tableItems(gateway, 'simplechat_connections')) === 2, 'the row of the closed connection is deleted');
  });
});

describe('ts-rooms: ESM TypeScript, SAM esbuild metadata, parameters overridden, https://${apiId}.execute-api…', () => {
  let gateway: Gateway;
  const log = capturedLog();
  const clients: TestClient[] = [];

  beforeAll(async () => {
    gateway = await startGateway({
      template: 'test/fixtures/apps/ts-rooms/template.yaml',
      port: 0,
      dynamodbPort: 0,
      logger: log.logger,
      parameters: { ConnectionsTableName: 'rooms_override', Greeting: 'hi there' },
    });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await gateway?.stop();
  });

  test('built from BuildProperties.EntryPoints; the table and environment follow the overridden parameters', async () => {
    const entries = gateway.built.map((b) => b.entry.replace(/.*ts-rooms\//, '')).sort();
    expect(entries).toEqual(['src/broadcast.ts', 'src/connect.ts', 'src/disconnect.ts', 'src/enqueue.ts', 'src/peek.ts']);
    expect(gateway.tableName).toBe('rooms_override');
    expect(gateway.model.functions.get('BroadcastFunction')!.environment).toMatchObject({ CONNECTIONS_TABLE: 'rooms_override', GREETING: 'hi there' });
    // A parameter left at its default names the stage: the gateway serves `local`, and the
    // policies' ${StageName} follows it.
    expect(gateway.stage).toBe('local');
  });

  test('a broadcast (paged Scan) reaches every client through the apiId.execute-api URL', async () => {
    clients.push(await TestClient.open(`${gateway.wsUrl}?name=ann`), await TestClient.open(`${gateway.wsUrl}?name=bo`));
    clients[0]!.send({ type: 'broadcast', text: 'hey' });
    for (const c of clients) {
      const [message] = await c.waitFor((d) => d?.text === 'hey');
      expect(message).toEqual({ greeting: 'hi there', from: 'ann', text: 'hey' });
    }
  });

  test('IAM: GetItem, which PeekFunction uses and its policy lacks, fails as in AWS, and the log names the missing statement', async () => {
    const client = clients[0]!;
    client.send({ type: 'peek' });
    const [answer] = await client.waitFor((d) => d?.error !== undefined || d?.item !== undefined);
    expect(answer).toEqual({
      error: 'AccessDeniedException',
      status: 400,
      message:
        'User: arn:aws:sts::123456789012:assumed-role/PeekFunctionRole/PeekFunction is not authorized to perform: ' +
        'dynamodb:GetItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/rooms_override ' +
        'because no identity-based policy allows the dynamodb:GetItem action',
    });
    const line = log.lines.find((l) => l.includes('IAM: PeekFunction'));
    expect(line).toContain('(route peek) may not dynamodb:GetItem on arn:aws:dynamodb:us-east-1:123456789012:table/rooms_override');
    expect(line).toContain(
      'Missing statement in its Policies:  - Statement: [{ Effect: Allow, Action: dynamodb:GetItem, Resource: arn:aws:dynamodb:us-east-1:123456789012:table/rooms_override }]',
    );
  });

  test('SQS: GetQueueUrl answers the AWS URL `!Ref` gives; SQSSendMessagePolicy allows the send, and nothing allows ReceiveMessage', async () => {
    const client = clients[1]!;
    client.send({ type: 'enqueue', text: 'job 1' });
    const [answer] = await client.waitFor((d) => d?.queueUrl !== undefined);
    expect(answer).toEqual({
      queueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/JobsQueue',
      sent: expect.any(String),
      received: { error: 'AccessDeniedException' },
    });
    const sqs = sqsClientFor(gateway.sqsEndpoint!, 'us-east-1');
    try {
      const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: gateway.queues.get('JobsQueue')!.url, WaitTimeSeconds: 1 }));
      expect(Messages?.map((m) => m.Body)).toEqual(['job 1']);
    } finally {
      sqs.destroy();
    }
    expect(log.lines.find((l) => l.includes('IAM: EnqueueFunction'))).toContain('may not sqs:ReceiveMessage on arn:aws:sqs:us-east-1:123456789012:JobsQueue');
  });
});

describe('--no-iam (iam: false)', () => {
  test('the same PeekFunction reads its row', async () => {
    const gateway = await startGateway({ template: 'test/fixtures/apps/ts-rooms/template.yaml', port: 0, dynamodbPort: 0, quiet, iam: false });
    const client = await TestClient.open(`${gateway.wsUrl}?name=cy`);
    try {
      client.send({ type: 'peek' });
      const [answer] = await client.waitFor((d) => d?.error !== undefined || d?.item !== undefined);
      expect(answer).toEqual({ item: { id: expect.any(String), name: 'cy' } });
    } finally {
      client.ws.terminate();
      await gateway.stop();
    }
  }, 60_000);
});
