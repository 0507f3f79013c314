// Stale connections are pruned by the send that meets them. $disconnect is best effort on
// API Gateway, so this gateway runs with runDisconnect: false: clients that vanish without a close
// frame leave their rows behind, as do rows for ids that never existed. The next send to their
// room gets 410 for each, and the outbox removes them (connection and memberships) from the table.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { connectionKey } from '../../../../src/store/keys.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import type { InvocationReport } from '../../src/websocket-api.ts';
import { joinAs, messagesWithText, type ChatClient } from './chat-support.ts';
import { eventually } from './support.ts';

let gateway: Gateway;
let db: DynamoDBDocumentClient;
const live: ChatClient[] = [];
const dropped: ChatClient[] = [];
const phantoms = ['cGhhbnRvbTE=', 'cGhhbnRvbS8y+w=='];

const row = async (key: { pk: string; sk: string }) => (await db.send(new GetCommand({ TableName: gateway.tableName, Key: key }))).Item;
const roomMembers = async (room: string) =>
  (
    (
      await db.send(
        new QueryCommand({
          TableName: gateway.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': `room#${room}` },
        }),
      )
    ).Items ?? []
  )
    .map((i) => i.sk as string)
    .sort();

beforeAll(async () => {
  gateway = await startGateway({
    template: 'test/fixtures/template.yaml',
    port: 0,
    dynamodbPort: 0,
    quiet: process.env.GATEWAY_LOG === undefined,
    outdir: mkdtempSync(join(tmpdir(), 'gw-prune-')),
    runDisconnect: false,
  });
  db = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: gateway.dynamodbEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    }),
  );
  for (let i = 0; i < 6; i++) live.push(await joinAs(gateway.wsUrl, `live${i}`, 'attic'));
  for (let i = 0; i < 3; i++) dropped.push(await joinAs(gateway.wsUrl, `drop${i}`, 'attic'));
  // Rows for connections that never existed, in the shape the store writes.
  const ttl = Math.floor(Date.now() / 1000) + 3600;
  for (const id of phantoms) {
    await db.send(
      new PutCommand({ TableName: gateway.tableName, Item: { ...connectionKey(id), connectedAt: Date.now() - 60_000, ttl, rooms: new Set(['attic']) } }),
    );
    await db.send(new PutCommand({ TableName: gateway.tableName, Item: { pk: 'room#attic', sk: id, ttl } }));
  }
}, 90_000);

afterAll(async () => {
  for (const c of live) c.client.ws.terminate();
  db?.destroy();
  await gateway?.stop();
});

test('dropped clients and phantom rows are removed after the next send that targets them', async () => {
  for (const c of dropped) await c.client.drop(); // TCP gone, no close frame, no $disconnect
  // They connected a minute ago: a 410 for a connection younger than the $connect grace (30 s)
  // does not prune it, since API Gateway answers 410 until $connect returns (connect-race.test.ts).
  for (const c of dropped) {
    await db.send(
      new UpdateCommand({
        TableName: gateway.tableName,
        Key: connectionKey(c.id),
        UpdateExpression: 'SET connectedAt = :t',
        ExpressionAttributeValues: { ':t': Date.now() - 60_000 },
      }),
    );
  }
  const stale = [...dropped.map((c) => c.id), ...phantoms];
  expect(await roomMembers('attic')).toEqual([...live.map((c) => c.id), ...stale].sort());
  for (const id of stale) expect(await row(connectionKey(id))).toBeDefined();

  const done = new Promise<InvocationReport>((resolve) =>
    gateway.events.on('invocation', (r: InvocationReport) => {
      if (r.route === 'send') resolve(r);
    }),
  );
  live[0]!.client.send({ action: 'send', room: 'attic', text: 'anyone there?' });
  expect((await done).statusCode).toBe(200);

  // Pruned by the time the send's invocation returned: the outbox awaits the removal too.
  expect(await roomMembers('attic')).toEqual(live.map((c) => c.id).sort());
  for (const id of stale) expect(await row(connectionKey(id))).toBeUndefined();
  for (const c of live) expect(await row(connectionKey(c.id))).toBeDefined();
  await eventually(() => live.every((c) => messagesWithText(c, 'anyone there?').length === 1), 'the live members got the message');
}, 30_000);
