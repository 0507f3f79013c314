// A WebSocket API that tracks its connections with no function (test/fixtures/apps/ddb-connections):
// $connect and $disconnect are DynamoDB service integrations (PutItem and DeleteItem made by
// request templates with #set, arithmetic and $input.params(), under the role CredentialsArn
// names), and $default is an InlineCode function on a two-way route (a route response). Real `ws` clients, the real embedded DynamoDB.
import { afterAll, afterEach, describe, expect, test } from '@jest/globals';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { startGateway, type Gateway, type GatewayOptions } from '../../src/gateway.ts';
import { createLogger } from '../../src/log.ts';
import { TestClient, eventually } from './support.ts';

const quiet = process.env.GATEWAY_LOG === undefined;
const table = 'ws-outbox-local-tracked';
let gateway: Gateway | undefined;
const clients: TestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await gateway?.stop();
  gateway = undefined;
});

const temp = mkdtempSync(join(tmpdir(), 'ws-outbox-ddb-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

const start = async (options: Partial<GatewayOptions> = {}) => {
  const lines: string[] = [];
  const logger = createLogger({
    write: (text) => {
      lines.push(text);
      if (!quiet) process.stderr.write(text);
    },
  });
  gateway = await startGateway({ template: 'test/fixtures/apps/ddb-connections/template.yaml', port: 0, dynamodbPort: 0, limits: false, logger, ...options });
  return { gateway, log: () => lines.join('') };
};

const rows = async (gw: Gateway) => {
  const db = new DynamoDBClient({ endpoint: gw.dynamodbEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  try {
    return (await db.send(new ScanCommand({ TableName: table }))).Items ?? [];
  } finally {
    db.destroy();
  }
};

describe('DynamoDB service integrations and an InlineCode function', () => {
  test('$connect puts the row its template renders, $default runs the inline code, $disconnect deletes the row', async () => {
    const { gateway: gw, log } = await start();
    expect(log()).not.toMatch(/InlineCode|does not emulate/);
    const before = Math.floor(Date.now() / 1000);
    const client = await TestClient.open(`${gw.wsUrl}/test?room=blue&who=ann`, { headers: { 'X-Client': 'jest-ws' } });
    clients.push(client);
    const other = await TestClient.open(`${gw.wsUrl}/test`, { headers: { 'X-Client': 'second' } });
    clients.push(other);

    const items = await rows(gw);
    expect(items).toHaveLength(2);
    const row = items.find((item) => item.client?.S === 'jest-ws')!;
    // $input.params().get('querystring') renders as Velocity writes a Java map; the #set arithmetic is seconds + one day.
    expect(row.query).toEqual({ S: '{room=blue, who=ann}' });
    expect(Number(row.expires!.N)).toBeGreaterThanOrEqual(before + 86400);
    expect(Number(row.expires!.N)).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 86400);
    expect(items.find((item) => item.client?.S === 'second')?.query).toEqual({ S: '{}' });

    client.send({ action: 'anything', text: 'hello' });
    const [answer] = await client.waitFor((d) => d?.echo !== undefined);
    // CommonJS, as CloudFormation's index.js is read: `module` exists.
    expect(answer).toEqual({ echo: { action: 'anything', text: 'hello' }, module: 'object' });
    // $default has a route response: the function's body comes back too (and only to the sender).
    expect(await client.waitFor((d) => d?.reply !== undefined)).toEqual([{ reply: 'hello' }]);
    expect(other.received).toEqual([]);

    // A message route integrated with DynamoDB and no route response: the item is put, nothing comes
    // back (as with the SQS integration); a body DynamoDB cannot read fails as an integration does.
    const id = row.id!.S!;
    other.send({ action: 'note', text: 'kept' });
    await eventually(async () => (await rows(gw)).some((item) => item.text?.S === 'kept'), 'the note is put');
    other.send({ action: 'note', text: 'a "quoted" word' });
    const [failure] = await other.waitFor((d) => d?.message !== undefined);
    expect(failure).toMatchObject({ message: 'Internal server error' });
    expect(other.received).toHaveLength(1);

    client.ws.close();
    await eventually(async () => !(await rows(gw)).some((item) => item.id?.S === id), 'the closed connection’s row is deleted');
    expect((await rows(gw)).map((item) => item.client?.S ?? item.text?.S).sort()).toEqual(['kept', 'second']);
  }, 60_000);

  test('a role without dynamodb:PutItem: $connect is refused, and the log names the role and the statement it lacks', async () => {
    const { gateway: gw, log } = await start({ parameters: { ConnectAction: 'dynamodb:GetItem' } });
    const refused = await TestClient.open(`${gw.wsUrl}/test`, { headers: { 'X-Client': 'denied' } }).then(
      () => undefined,
      (error: { status?: number }) => error,
    );
    expect(refused?.status).toBe(500);
    expect(await rows(gw)).toEqual([]);
    expect(log()).toMatch(
      /IAM: route \$connect \(ConnectIntegration\) calls DynamoDB PutItem: role TrackerRole \(its CredentialsArn\) has no statement allowing dynamodb:PutItem on arn:aws:dynamodb:us-east-1:123456789012:table\/ws-outbox-local-tracked/,
    );
    expect(log()).toMatch(
      /AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role\/TrackerRole\/apigateway is not authorized to perform: dynamodb:PutItem/,
    );
  }, 60_000);

  test('an edit of the InlineCode applies on reload: new invocations run the new text', async () => {
    const template = join(temp, 'template.yaml');
    cpSync('test/fixtures/apps/ddb-connections/template.yaml', template);
    const { gateway: gw } = await start({ template });
    const client = await TestClient.open(`${gw.wsUrl}/test`);
    clients.push(client);
    writeFileSync(template, readFileSync(template, 'utf8').replace('reply: echo.echo.text', "reply: 'v2 ' + echo.echo.text"));
    expect((await gw.reload()).changes).toEqual(['EchoFunction InlineCode']);
    client.send({ text: 'again' });
    expect(await client.waitFor((d) => d?.reply !== undefined)).toEqual([{ reply: 'v2 again' }]);
  }, 60_000);

  test('with --no-iam the role is not checked', async () => {
    const { gateway: gw } = await start({ parameters: { ConnectAction: 'dynamodb:GetItem' }, iam: false });
    clients.push(await TestClient.open(`${gw.wsUrl}/test`, { headers: { 'X-Client': 'unchecked' } }));
    expect((await rows(gw)).map((item) => item.client?.S)).toEqual(['unchecked']);
  }, 60_000);
});
