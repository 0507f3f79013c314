// outbox.toUser() through the local gateway (test/fixtures/template.yaml's notify route): one user
// logged in twice (two tabs: two connections, one `sub`) gets the message on both, and no one else
// does; a tab that vanished is pruned with its user-index row.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import { connectionKey } from '../../../../src/store/keys.ts';
import { eventually, openAs, sleep, type TestClient } from './support.ts';

const outdir = mkdtempSync(join(tmpdir(), 'gw-to-user-'));
let gateway: Gateway;
let db: DynamoDBDocumentClient;
const clients: TestClient[] = [];

beforeAll(async () => {
  gateway = await startGateway({ template: 'test/fixtures/template.yaml', port: 0, dynamodbPort: 0, quiet: process.env.GATEWAY_LOG === undefined, outdir });
  db = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: gateway.dynamodbEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }),
  );
}, 90_000);

afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  db?.destroy();
  await gateway?.stop();
  rmSync(outdir, { recursive: true, force: true });
});

const open = async (name: string) => {
  const client = await openAs(gateway.wsUrl, name);
  clients.push(client);
  return client;
};

const userRows = async (userId: string) =>
  (
    (
      await db.send(
        new QueryCommand({ TableName: gateway.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `user#${userId}` } }),
      )
    ).Items ?? []
  ).map((i) => i.sk);

test('toUser reaches both connections of one user and no one else', async () => {
  const [tab1, tab2, bob, carol] = [await open('alice'), await open('alice'), await open('bob'), await open('carol')];
  // The dev issuer's sub for alice is dev-alice: both tabs are indexed under it.
  await eventually(async () => (await userRows('dev-alice')).length === 2, 'both tabs are indexed');
  bob.send({ action: 'notify', user: 'dev-alice', text: 'for alice' });
  await bob.waitFor((d) => d?.type === 'notified');
  for (const tab of [tab1, tab2]) {
    const [note] = await tab.waitFor((d) => d?.type === 'note');
    expect(note).toMatchObject({ text: 'for alice', from: { name: 'bob' } });
  }
  await sleep(300);
  for (const other of [bob, carol]) expect(other.matching((d) => d?.type === 'note')).toEqual([]);
  expect([tab1, tab2].map((t) => t.matching((d) => d?.type === 'note').length)).toEqual([1, 1]);
}, 60_000);

test('a tab that vanished without $disconnect is pruned from the user index on 410', async () => {
  // Without $disconnect the row stays until a send finds the connection gone.
  const quietGateway = await startGateway({
    template: 'test/fixtures/template.yaml',
    port: 0,
    dynamodbPort: 0,
    quiet: true,
    outdir: join(outdir, 'q'),
    runDisconnect: false,
  });
  const qdb = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: quietGateway.dynamodbEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }),
  );
  const rows = async () =>
    (
      (
        await qdb.send(
          new QueryCommand({ TableName: quietGateway.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'user#dev-dana' } }),
        )
      ).Items ?? []
    ).map((i) => i.sk);
  try {
    const stays = await openAs(quietGateway.wsUrl, 'dana');
    const vanishes = await openAs(quietGateway.wsUrl, 'dana');
    const sender = await openAs(quietGateway.wsUrl, 'erin');
    await eventually(async () => (await rows()).length === 2, 'both indexed');
    // The live tab learns its connection id from the notify ack.
    stays.send({ action: 'notify', user: 'nobody', text: '' });
    const [{ connectionId: staysId }] = await stays.waitFor((d) => d?.type === 'notified');
    await vanishes.drop();
    // The prune keeps rows younger than the $connect grace (30 s): age them, as time would.
    for (const id of await rows()) {
      await qdb.send(
        new UpdateCommand({
          TableName: quietGateway.tableName,
          Key: connectionKey(id),
          UpdateExpression: 'SET connectedAt = :old',
          ExpressionAttributeValues: { ':old': Date.now() - 3_600_000 },
        }),
      );
    }
    sender.send({ action: 'notify', user: 'dev-dana', text: 'hello?' });
    await stays.waitFor((d) => d?.type === 'note');
    // One row left, the live tab's: the vanished one answered 410 and went with its connection.
    await eventually(async () => (await rows()).length === 1, 'the gone tab is pruned from the user index');
    expect(await rows()).toEqual([staysId]);
    const item = await qdb.send(new GetCommand({ TableName: quietGateway.tableName, Key: connectionKey(staysId) }));
    expect(item.Item?.userId).toBe('dev-dana');
    for (const c of [stays, sender]) c.ws.terminate();
  } finally {
    qdb.destroy();
    await quietGateway.stop();
  }
}, 60_000);
