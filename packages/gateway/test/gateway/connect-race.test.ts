// A broadcast racing new connections must not prune them. API Gateway answers 410 for a
// connection until its $connect returns, and $connect writes the row before it returns: a toAll
// that reads the row in that window gets a 410 for a live client. Pruning it then would leave a
// live but unregistered client, whose every join fails. The outbox keeps rows younger than the
// $connect grace, so here 200 clients connect while a broadcast runs every 40 ms, and every one of
// them still has its row afterwards.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import type { InvocationReport } from '../../src/websocket-api.ts';
import { connectionRows } from '../../../../test/helpers/connection-rows.ts';
import { eventually, openAs, type TestClient } from './support.ts';

let gateway: Gateway;
let db: DynamoDBDocumentClient;
let outdir: string;
const clients: TestClient[] = [];
// Module-level so that afterAll stops the broadcast loop even when the test fails half way.
let broadcasting = false;

const connectionIds = async (): Promise<string[]> => (await connectionRows(db, gateway.tableName!)).map((row) => row.sk as string);

beforeAll(async () => {
  outdir = mkdtempSync(join(tmpdir(), 'gw-race-'));
  gateway = await startGateway({ template: 'test/fixtures/template.yaml', port: 0, dynamodbPort: 0, quiet: process.env.GATEWAY_LOG === undefined, outdir });
  db = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: gateway.dynamodbEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    }),
  );
}, 90_000);

afterAll(async () => {
  broadcasting = false;
  for (const c of clients) c.ws.terminate();
  db?.destroy();
  await gateway?.stop();
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

test('a broadcast racing 200 connects prunes none of them', async () => {
  const broadcaster = await openAs(gateway.wsUrl, 'broadcaster', { scope: 'chat:broadcast' });
  clients.push(broadcaster);
  const invocations = { send: 0, join: 0 };
  gateway.events.on('invocation', (r: InvocationReport) => {
    if (r.route === 'send' || r.route === 'join') invocations[r.route]++;
  });
  broadcasting = true;
  const ticks = (async () => {
    for (let n = 0; broadcasting; n++) {
      broadcaster.send({ action: 'send', text: `tick ${n}` });
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
  })();
  // Ten at a time, as a burst of page loads would. On a starved machine a $connect can fail
  // (its PutItem times out): that client is refused, has no row to lose, and is not counted.
  let refused = 0;
  for (let i = 0; i < 200; i += 10) {
    const opened = await Promise.all(Array.from({ length: 10 }, (_, j) => openAs(gateway.wsUrl, `c${i + j}`).catch(() => void refused++)));
    clients.push(...opened.filter((c): c is TestClient => c !== undefined));
  }
  expect(refused).toBeLessThan(20);
  // Let the broadcasts that were reading while the last clients connected finish.
  await new Promise((resolve) => setTimeout(resolve, 500));
  broadcasting = false;
  await ticks;
  expect(invocations.send).toBeGreaterThan(10); // the broadcasts really did run during the connects

  const rows = new Set(await connectionIds());
  expect(rows.size).toBe(clients.length);

  // What a user would see: every client can still join (an unregistered one gets an error).
  // Ten at a time too: 200 joins at once are 200 cold instances under their CPU shares on a
  // 2-core CI machine, and some then time out (an internal error that says nothing of the rows).
  for (let i = 0; i < clients.length; i += 10) {
    for (const c of clients.slice(i, i + 10)) c.send({ action: 'join', room: 'after-race' });
    await eventually(() => invocations.join === Math.min(i + 10, clients.length), 'every join ran', 60_000);
  }
  // A pruned client would be told it is not registered: none may be. A join that timed out on a
  // starved machine (a cold instance at its 256 MB CPU share past its 10 s timeout) answers
  // "Internal server error", which says nothing of the rows: such a client joins again, alone,
  // and must get in.
  const errorsOf = (c: TestClient) => c.matching((d) => d?.type === 'error').map((d) => d.message);
  expect(clients.flatMap(errorsOf).filter((message) => message !== 'Internal server error')).toEqual([]);
  const timedOut = clients.filter((c) => errorsOf(c).length > 0);
  expect(timedOut.length).toBeLessThan(clients.length / 2);
  for (const c of timedOut) {
    c.send({ action: 'join', room: 'after-race' });
    await c.waitFor((d) => d?.type === 'joined' && d.room === 'after-race', { timeoutMs: 30_000 });
  }
}, 180_000);
