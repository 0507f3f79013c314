// The bug this project exists for, reproduced under the local gateway's freeze: a function that
// starts 20 PostToConnection calls without awaiting them and returns. Lambda freezes the instance
// when the promise settles, so those requests do not go out during the invocation; they leave
// (late) when the instance thaws for its next invocation, and the gateway reports a LATE SEND.
// The same fan-out through context.outbox is delivered in full before the response.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import type { Delivery } from '../../src/management-api.ts';
import type { InvocationReport } from '../../src/websocket-api.ts';
import { joinAs, messagesWithText, type ChatClient } from './chat-support.ts';
import { eventually, expectedNoise, sleep } from './support.ts';

let gateway: Gateway;
let sender: ChatClient;
const recipients: ChatClient[] = [];
const deliveries: Delivery[] = [];

/** Sends from `sender` and resolves with the report of the invocation it caused on `route`. */
const invoke = (route: string, body: Record<string, unknown>): Promise<InvocationReport> =>
  new Promise((resolve) => {
    const listener = (r: InvocationReport) => {
      if (r.route === route && r.connectionId === sender.id) {
        gateway.events.off('invocation', listener);
        resolve(r);
      }
    };
    gateway.events.on('invocation', listener);
    sender.client.send({ action: route, ...body });
  });

beforeAll(async () => {
  gateway = await startGateway({
    template: 'test/fixtures/template.yaml',
    port: 0,
    dynamodbPort: 0,
    ...expectedNoise('late-send.test.ts runs the un-awaited sends bug on purpose'),
    outdir: mkdtempSync(join(tmpdir(), 'gw-late-')),
  });
  gateway.events.on('delivery', (d: Delivery) => deliveries.push(d));
  sender = await joinAs(gateway.wsUrl, 'sender', 'sender-room');
  for (let i = 0; i < 20; i++) recipients.push(await joinAs(gateway.wsUrl, `r${i}`, `own-${i}`));
}, 90_000);

afterAll(async () => {
  for (const c of [sender, ...recipients]) c?.client.ws.terminate();
  await gateway?.stop();
});

test('un-awaited sends: fewer than 20 delivered by the end of the invocation, then a LATE SEND', async () => {
  const ids = recipients.map((r) => r.id);
  const report = await invoke('floodbug', { to: ids, text: 'bug' });
  expect(report.status).toBe('ok');
  const duringInvocation = deliveries.filter((d) => d.requestId === report.requestId).length;
  expect(duringInvocation).toBeLessThan(20);

  // Frozen: time passes, nothing more goes out and nothing is reported yet.
  await sleep(500);
  expect(deliveries.filter((d) => d.requestId === report.requestId).length).toBe(duringInvocation);
  expect(recipients.filter((r) => messagesWithText(r, 'bug').length > 0).length).toBe(duringInvocation);
  expect(gateway.lateSends).toEqual([]);

  // Later invocations thaw the instance, and the leftover work of the first one runs a little
  // during each (credentials, signing, sockets) until its requests go out: late.
  for (let thaw = 0; thaw < 30 && gateway.lateSends.length === 0; thaw++) {
    expect((await invoke('floodbug', { to: [], text: 'nothing' })).status).toBe('ok');
  }
  await eventually(() => gateway.lateSends.length > 0, 'a LATE SEND is reported');
  const late = gateway.lateSends[0]!;
  expect(late).toMatchObject({ functionName: 'FloodBugFunction', route: 'floodbug', requestId: report.requestId, method: 'POST' });
  expect(ids).toContain(late.connectionId);
  expect(gateway.lateSends.every((l) => l.requestId === report.requestId)).toBe(true);
}, 30_000);

test('the same fan-out through the outbox: all 20 delivered before the response, none late', async () => {
  const lateBefore = gateway.lateSends.length;
  const report = await invoke('floodoutbox', { to: recipients.map((r) => r.id), text: 'outbox' });
  expect(report.status).toBe('ok');
  // Counted when the invocation's result arrived: every POST came from the live invocation.
  const mine = deliveries.filter((d) => d.requestId === report.requestId);
  expect(mine).toHaveLength(20);
  expect(mine.every((d) => !d.late)).toBe(true);
  expect(new Set(mine.map((d) => d.connectionId))).toEqual(new Set(recipients.map((r) => r.id)));
  await eventually(() => recipients.every((r) => messagesWithText(r, 'outbox').length === 1), 'every recipient has the message once');
  // None of this invocation's requests was late. (The first test's leftover requests may still be
  // landing: they were written before its instance froze again, and reach the gateway over TLS.)
  expect(gateway.lateSends.filter((l) => l.requestId === report.requestId)).toEqual([]);
  expect(gateway.lateSends.slice(lateBefore).every((l) => l.functionName === 'FloodBugFunction')).toBe(true);
}, 30_000);
