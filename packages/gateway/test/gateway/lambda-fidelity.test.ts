// Lambda's execution model as the local gateway runs it: warm instances keep module state, one
// invocation per instance (a new one when all are busy), and an instance is frozen when its
// handler's promise settles, so a timer it left behind fires only when the instance thaws.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import { TestClient, eventually, sleep } from './support.ts';

let gateway: Gateway;
let client: TestClient;

beforeAll(async () => {
  gateway = await startGateway({
    template: 'test/fixtures/mechanics-template.yaml',
    port: 0,
    dynamodbPort: 0,
    quiet: process.env.GATEWAY_LOG === undefined,
    outdir: mkdtempSync(join(tmpdir(), 'gw-lambda-')),
  });
  client = await TestClient.open(gateway.wsUrl);
}, 60_000);

afterAll(async () => {
  // The client's $disconnect runs to its end before the stop, which would otherwise end its
  // instance mid-init and log that as an error.
  const disconnected = new Promise<void>((resolve) =>
    gateway?.events.on('invocation', (r: { route: string }) => {
      if (r.route === '$disconnect') resolve();
    }),
  );
  await client?.close();
  if (gateway) await Promise.race([disconnected, sleep(10_000)]);
  await gateway?.stop();
});

const echoes = () => client.matching((d) => d?.event);

/** Sends and waits until the invocation has returned (the echo arrives a little before that). */
const sendAndSettle = (message: unknown) =>
  new Promise<void>((resolve) => {
    const listener = (r: { route: string }) => {
      if (r.route === '$default') {
        gateway.events.off('invocation', listener);
        resolve();
      }
    };
    gateway.events.on('invocation', listener);
    client.send(message);
  });

test('a warm instance keeps its module state across invocations', async () => {
  const before = echoes().length;
  for (let i = 0; i < 3; i++) await sendAndSettle({ action: 'echo', n: i });
  await client.waitFor((d) => d?.event, { count: before + 3 });
  const mine = echoes().slice(before);
  expect(new Set(mine.map((e) => e.pid)).size).toBe(1);
  const counts = mine.map((e) => e.invocations);
  expect(counts).toEqual([counts[0], counts[0] + 1, counts[0] + 2]);
  expect(new Set(mine.map((e) => e.context.awsRequestId)).size).toBe(3);
});

test('a timer left running is frozen with the instance and fires at the next invocation, as a LATE SEND', async () => {
  client.send({ action: 'later' });
  await sleep(600); // 12× the timer's 50 ms
  expect(client.matching((d) => d === 'timer fired')).toEqual([]);
  expect(gateway.lateSends).toEqual([]);
  // Thaw: the next invocations run on warm instances (the one that ran 'later' among them), and
  // the timer finally runs.
  for (let i = 0; i < 20 && client.matching((d) => d === 'timer fired').length === 0; i++) {
    await sendAndSettle({ action: 'echo' });
  }
  await client.waitFor((d) => d === 'timer fired');
  await eventually(() => gateway.lateSends.length === 1, "the timer's post is reported as a LATE SEND");
  expect(gateway.lateSends[0]).toMatchObject({ functionName: 'EchoFunction', route: 'later', method: 'POST' });
}, 30_000);

test('concurrent invocations run on separate instances, one invocation each', async () => {
  const before = echoes().length;
  for (let i = 0; i < 3; i++) client.send({ action: 'echo', delayMs: 400 });
  await client.waitFor((d) => d?.event, { count: before + 3 });
  expect(
    new Set(
      echoes()
        .slice(before)
        .map((e) => e.pid),
    ).size,
  ).toBe(3);
});
