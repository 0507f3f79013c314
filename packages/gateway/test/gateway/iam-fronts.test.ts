// The local IAM fronts read a request as the server behind them will, then check it: a function
// allowed only `Table` and `Q` tries the ways past them that a check reading the request its own way
// leaves open. Real parts: the embedded SQS (fauxqs) and DynamoDB (dynalite), the fronts behind the
// TLS front with the gateway's own CA, the real SDK over HTTPS, raw TLS requests.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent, request } from 'node:https';
import { connect } from 'node:tls';
import { startAwsFront, type AwsFront, type HostHandler } from '../../src/aws-front.ts';
import { createDynamoFront } from '../../src/dynamodb-front.ts';
import { localCredentials, startDynamo, type LocalDynamo } from '../../src/dynamodb.ts';
import { createIamCheck } from '../../src/iam/check.ts';
import { Identities, type Identity } from '../../src/iam/identities.ts';
import { InvocationLedger } from '../../src/invocations.ts';
import { createLocalCa, type LocalCa } from '../../src/local-ca.ts';
import { createSqsFront } from '../../src/sqs-front.ts';
import { startSqs, type LocalSqs } from '../../src/sqs.ts';

const region = 'us-east-1';
const account = '123456789012';
const sqsHost = `sqs.${region}.amazonaws.com`;
const dynamoHost = `dynamodb.${region}.amazonaws.com`;
const queueUrl = (name: string) => `https://${sqsHost}/${account}/${name}`;
const table = (name: string) => ({
  logicalId: name,
  tableName: name,
  definition: {
    TableName: name,
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    BillingMode: 'PAY_PER_REQUEST',
  },
});

let sqs: LocalSqs;
let dynamo: LocalDynamo;
let ca: LocalCa;
let front: AwsFront;
let fn: Identity;
let closeFronts: () => void;
const lines: string[] = [];

/** An https agent whose connections go to the TLS front, whatever AWS host they name (as egress.ts does in a worker). */
const agent = () => {
  const a = new Agent({ keepAlive: false, ca: ca.caPem });
  a.createConnection = ((options: { servername?: string; host?: string }) =>
    connect({ host: '127.0.0.1', port: front.port, servername: options.servername ?? options.host ?? undefined, ca: ca.caPem })) as never;
  return a;
};
const credentials = () => ({ accessKeyId: fn.accessKeyId, secretAccessKey: fn.secretAccessKey, sessionToken: fn.sessionToken });
const sqsClient = () =>
  new SQSClient({
    region,
    endpoint: `https://${sqsHost}`,
    credentials: credentials(),
    requestHandler: new NodeHttpHandler({ httpsAgent: agent() }),
    maxAttempts: 1,
  });

/** A raw request over TLS to an AWS host name (no SDK): what a function can write by hand. */
const raw = (host: string, options: { method?: string; path?: string; headers?: Record<string, string>; body?: string }) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host, method: options.method ?? 'POST', path: options.path ?? '/', headers: { host, ...options.headers }, agent: agent() }, (res) => {
      let body = '';
      res
        .setEncoding('utf8')
        .on('data', (c: string) => {
          body += c;
        })
        .on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(options.body ?? '');
  });

/** A SigV4-looking Authorization header with the function's own key id (fronts read the key, dynalite and fauxqs never check the signature). */
const signedBy = (key: string) => ({
  authorization: `AWS4-HMAC-SHA256 Credential=${key}/20260101/${region}/sqs/aws4_request, SignedHeaders=host, Signature=00`,
  'x-amz-date': '20260101T000000Z',
});

beforeAll(async () => {
  sqs = await startSqs({
    port: 0,
    region,
    queues: ['Q', 'OtherQ'].map((logicalId) => ({ logicalId, properties: {}, deadLetterQueue: undefined, maxReceiveCount: undefined })),
  });
  dynamo = await startDynamo({ port: 0, region, tables: [table('Table'), table('OtherTable')] });
  const identities = new Identities();
  fn = identities.issue('Fn', 'ws-outbox-local-Fn', 1);
  const statements = [
    { Effect: 'Allow', Action: ['sqs:*'], Resource: [`arn:aws:sqs:${region}:${account}:Q`] },
    { Effect: 'Allow', Action: ['dynamodb:*'], Resource: [`arn:aws:dynamodb:${region}:${account}:table/Table`] },
  ];
  const iam = createIamCheck({
    enabled: true,
    identities,
    policyOf: () => ({ statements, unknown: [] }) as never,
    accountId: account,
    ledger: new InvocationLedger(),
    log: {
      error: (line: string) => {
        lines.push(line);
      },
    },
  });
  const sqsFront = createSqsFront({ upstream: sqs.endpoint, iam, region, accountId: account });
  const dynamoFront = createDynamoFront({ upstream: dynamo.endpoint, iam, region, accountId: account });
  closeFronts = () => {
    sqsFront.close();
    dynamoFront.close();
  };
  ca = await createLocalCa([sqsHost, dynamoHost]);
  front = await startAwsFront(
    ca,
    new Map<string, HostHandler>([
      [sqsHost, sqsFront.handle],
      [dynamoHost, dynamoFront.handle],
    ]),
    (error) => {
      lines.push(`front error: ${error.message}`);
    },
  );
  // Something to read in the forbidden places.
  await sqs.client().send(new SendMessageCommand({ QueueUrl: sqs.queues.get('OtherQ')!.url, MessageBody: 'secret' }));
  const admin = new DynamoDBClient({ region, endpoint: dynamo.endpoint, credentials: localCredentials });
  await admin.send(new PutItemCommand({ TableName: 'OtherTable', Item: { pk: { S: 'k' }, secret: { S: 'yes' } } }));
  admin.destroy();
});

afterAll(async () => {
  await front?.close();
  closeFronts?.();
  await Promise.all([sqs?.stop(), dynamo?.stop()]);
});

describe('the SQS front reads a request as fauxqs does', () => {
  it('allows what the policy allows: SendMessage to Q through the SDK', async () => {
    const client = sqsClient();
    await expect(client.send(new SendMessageCommand({ QueueUrl: queueUrl('Q'), MessageBody: 'fine' }))).resolves.toMatchObject({
      MessageId: expect.any(String),
    });
    client.destroy();
  });

  it('`<Q url>?x=/OtherQ` (fauxqs uses the last path segment) is checked as OtherQ, and refused, even through SendMessageCommand', async () => {
    const client = sqsClient();
    await expect(client.send(new SendMessageCommand({ QueueUrl: `${queueUrl('Q')}?x=/OtherQ`, MessageBody: 'sneaky' }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining(`sqs:SendMessage on resource: arn:aws:sqs:${region}:${account}:OtherQ`),
    });
    client.destroy();
    expect(lines.at(-1)).toMatch(/IAM: ws-outbox-local-Fn .* may not sqs:SendMessage on arn:aws:sqs:us-east-1:123456789012:OtherQ/);
  });

  it.each([
    ['SendMessageAmazonSQS.', { QueueUrl: queueUrl('OtherQ'), MessageBody: 'sneaky' }],
    ['ReceiveMessageAmazonSQS.', { QueueUrl: queueUrl('OtherQ') }],
  ])('X-Amz-Target %s (an empty operation to a check that splits on the last dot) is refused, naming the function', async (target, body) => {
    const answer = await raw(sqsHost, {
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': target, ...signedBy(fn.accessKeyId) },
      body: JSON.stringify(body),
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatch(/AccessDeniedException/);
    expect(answer.body).not.toMatch(/secret|MessageId/);
    expect(lines.at(-1)).toMatch(
      new RegExp(`IAM: ws-outbox-local-Fn \\(route -\\) sent SQS a request it cannot check \\(unknown action "${target}"\\): refused`),
    );
    // Nothing left OtherQ, nothing arrived there.
    const left = await sqs.client().send(new ReceiveMessageCommand({ QueueUrl: sqs.queues.get('OtherQ')!.url, VisibilityTimeout: 0, MaxNumberOfMessages: 10 }));
    expect(left.Messages?.map((m) => m.Body)).toEqual(['secret']);
  });

  it.each([
    ['GET', '/_fauxqs/queues/OtherQ'],
    ['GET', '/_fauxqs/queues'],
    ['PUT', '/bucket'],
    ['GET', '/health'],
  ])("%s %s (fauxqs's inspection and S3 routes) is refused, not answered 200", async (method, path) => {
    const answer = await raw(sqsHost, { method, path, headers: signedBy(fn.accessKeyId) });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatch(/AccessDeniedException/);
    expect(lines.at(-1)).toMatch(/IAM: ws-outbox-local-Fn \(route -\) sent SQS a request it cannot check/);
  });

  it('a form-encoded request (fauxqs would take it for SNS) is refused', async () => {
    const answer = await raw(sqsHost, {
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...signedBy(fn.accessKeyId) },
      body: 'Action=CreateTopic&Name=t',
    });
    expect(answer.status).toBe(400);
    expect(lines.at(-1)).toMatch(/the local SQS speaks SQS's JSON protocol only/);
  });
});

describe('the DynamoDB front', () => {
  it('allows what the policy allows: GetItem on Table through the SDK', async () => {
    const client = new DynamoDBClient({
      region,
      endpoint: `https://${dynamoHost}`,
      credentials: credentials(),
      requestHandler: new NodeHttpHandler({ httpsAgent: agent() }),
      maxAttempts: 1,
    });
    await expect(client.send(new GetItemCommand({ TableName: 'Table', Key: { pk: { S: 'k' } } }))).resolves.toBeDefined();
    await expect(client.send(new GetItemCommand({ TableName: 'OtherTable', Key: { pk: { S: 'k' } } }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    client.destroy();
  });

  it('a raw TLS request signed with made-up keys and no invocation stamp does not read OtherTable', async () => {
    const answer = await raw(dynamoHost, {
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.GetItem', ...signedBy('AKIAMADEUPMADEUP0000') },
      body: JSON.stringify({ TableName: 'OtherTable', Key: { pk: { S: 'k' } } }),
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatch(/UnrecognizedClientException/);
    expect(answer.body).not.toMatch(/secret/);
    expect(lines.at(-1)).toMatch(/IAM: a function \(no invocation stamp\) \(route -\) called dynamodb:GetItem without the credentials of its role/);
  });

  it.each([
    ['an empty operation', 'DynamoDB_20120810.', 'application/x-amz-json-1.0'],
    ['three parts', 'DynamoDB_20120810.GetItem.x', 'application/x-amz-json-1.0'],
    ['an operation dynalite does not serve', 'DynamoDB_20120810.ExecuteStatement', 'application/x-amz-json-1.0'],
    ['another content type', 'DynamoDB_20120810.GetItem', 'text/plain'],
  ])('%s is refused, naming the function', async (_, target, type) => {
    const answer = await raw(dynamoHost, {
      headers: { 'content-type': type, 'x-amz-target': target, ...signedBy(fn.accessKeyId) },
      body: JSON.stringify({ TableName: 'OtherTable', Key: { pk: { S: 'k' } }, Statement: 'SELECT * FROM OtherTable' }),
    });
    expect(answer.status).toBe(400);
    expect(answer.body).not.toMatch(/secret/);
    expect(lines.at(-1)).toMatch(/IAM: ws-outbox-local-Fn \(route -\) sent DynamoDB a request it cannot check/);
  });
});
