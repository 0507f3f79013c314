// The chat's rooms on the local gateway with the real handlers: 50 clients in three rooms.
// A send to a room reaches exactly its members, once each; a send to all reaches all 50;
// leaving and disconnecting are reflected in who gets the next message.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { connectionKey } from '../../../../src/store/keys.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import type { InvocationReport } from '../../src/websocket-api.ts';
import { joinAs, messagesWithText, type ChatClient } from './chat-support.ts';
import { eventually } from './support.ts';

const rooms = ['red', 'green', 'blue'];
let gateway: Gateway;
const clients: ChatClient[] = [];
let db: DynamoDBDocumentClient;
const outdir = mkdtempSync(join(tmpdir(), 'gw-rooms-'));
const members = (room: string) => clients.filter((_, i) => rooms[i % 3] === room);

/** Sends, then waits for the send invocation to finish (the outbox has delivered by then). */
const sendAndSettle = async (from: ChatClient, body: Record<string, unknown>): Promise<void> => {
  const done = new Promise<InvocationReport>((resolve) => {
    const listener = (r: InvocationReport) => {
      if (r.route === 'send' && r.connectionId === from.id) {
        gateway.events.off('invocation', listener);
        resolve(r);
      }
    };
    gateway.events.on('invocation', listener);
  });
  from.client.send({ action: 'send', ...body });
  expect((await done).statusCode).toBe(200);
};

beforeAll(async () => {
  gateway = await startGateway({
    template: 'test/fixtures/template.yaml',
    port: 0,
    dynamodbPort: 0,
    quiet: process.env.GATEWAY_LOG === undefined,
    outdir,
  });
  db = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: gateway.dynamodbEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    }),
  );
  // One join at a time per room, so each client's first `joined` is its own (see joinAs).
  // user7 may send to everyone (the chat:broadcast claim); the others may not.
  for (let i = 0; i < 50; i++) clients.push(await joinAs(gateway.wsUrl, `user${i}`, rooms[i % 3]!, i === 7 ? { scope: 'chat:broadcast' } : {}));
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.client.ws.terminate();
  db?.destroy();
  await gateway?.stop();
  rmSync(outdir, { recursive: true, force: true });
});

test("every member saw the later joins of its room, and nobody saw another room's", async () => {
  const expectedJoins = (i: number) =>
    [
      clients[i]!.id,
      ...members(rooms[i % 3]!)
        .filter((m) => clients.indexOf(m) > i)
        .map((m) => m.id),
    ].sort();
  const joinsSeen = (c: ChatClient) => c.client.matching((d) => d?.type === 'joined');
  // The last joins may still be on their way to the earlier members.
  await eventually(() => clients.every((c, i) => joinsSeen(c).length >= expectedJoins(i).length), 'every join has arrived');
  for (const [i, c] of clients.entries()) {
    const joined = joinsSeen(c);
    expect(joined.every((d) => d.room === rooms[i % 3])).toBe(true);
    expect(joined.map((d) => d.connectionId).sort()).toEqual(expectedJoins(i));
  }
});

test('a send to a room reaches exactly its members, once each', async () => {
  for (const room of rooms) {
    const sender = members(room)[1]!;
    const text = `hello ${room}`;
    await sendAndSettle(sender, { room, text });
    await eventually(() => members(room).every((m) => messagesWithText(m, text).length === 1), `all of ${room} got "${text}"`);
    for (const m of members(room)) {
      expect(messagesWithText(m, text)).toEqual([
        { type: 'message', id: expect.any(String), room, from: { id: sender.id, name: `user${clients.indexOf(sender)}` }, text },
      ]);
    }
    // One message, one id, whoever received it.
    expect(new Set(members(room).map((m) => messagesWithText(m, text)[0].id)).size).toBe(1);
    for (const other of clients.filter((c) => !members(room).includes(c))) {
      expect(messagesWithText(other, text)).toEqual([]);
    }
  }
}, 60_000);

test('a send to all reaches all 50, once each', async () => {
  const sender = clients[7]!;
  await sendAndSettle(sender, { text: 'hello everyone' });
  await eventually(() => clients.every((c) => messagesWithText(c, 'hello everyone').length >= 1), 'all 50 got it');
  for (const c of clients)
    expect(messagesWithText(c, 'hello everyone')).toEqual([
      { type: 'message', id: expect.any(String), from: { id: sender.id, name: 'user7' }, text: 'hello everyone' },
    ]);
  expect(new Set(clients.map((c) => messagesWithText(c, 'hello everyone')[0].id)).size).toBe(1);
}, 60_000);

test('leave: the room and the leaver are told, and the leaver gets no more of the room', async () => {
  const red = members('red');
  const leaver = red[2]!;
  leaver.client.send({ action: 'leave', room: 'red' });
  await eventually(() => red.every((m) => m.client.matching((d) => d?.type === 'left' && d.connectionId === leaver.id).length === 1), 'all of red were told');
  await sendAndSettle(red[0]!, { room: 'red', text: 'after leave' });
  const stayed = red.filter((m) => m !== leaver);
  await eventually(() => stayed.every((m) => messagesWithText(m, 'after leave').length === 1), 'the rest of red got it');
  expect(messagesWithText(leaver, 'after leave')).toEqual([]);
  // The store agrees.
  const item = (await db.send(new GetCommand({ TableName: gateway.tableName, Key: { pk: 'room#red', sk: leaver.id } }))).Item;
  expect(item).toBeUndefined();
}, 60_000);

test('disconnect: $disconnect removes the connection and its memberships; the room carries on', async () => {
  const green = members('green');
  const gone = green[3]!;
  await gone.client.close();
  await eventually(
    async () => (await db.send(new GetCommand({ TableName: gateway.tableName, Key: connectionKey(gone.id) }))).Item === undefined,
    'the connection row is removed',
  );
  const membership = await db.send(new GetCommand({ TableName: gateway.tableName, Key: { pk: 'room#green', sk: gone.id } }));
  expect(membership.Item).toBeUndefined();
  await sendAndSettle(green[0]!, { room: 'green', text: 'after disconnect' });
  const rest = green.filter((m) => m !== gone);
  await eventually(() => rest.every((m) => messagesWithText(m, 'after disconnect').length === 1), 'the rest of green got it');
  expect(messagesWithText(gone, 'after disconnect')).toEqual([]);
}, 60_000);
