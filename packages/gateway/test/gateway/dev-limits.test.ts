// `ws-outbox dev` shortens API Gateway's idle timeout and connection cap from its environment
// (IDLE_TIMEOUT_SECONDS, MAX_CONNECTION_SECONDS), so a client's reconnect and resume can be watched
// in seconds; a bad value stops it with a message naming the variable.
import { afterAll, expect, test } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestClient, devToken, eventually } from './support.ts';

const root = resolve(fileURLToPath(new URL('../../../..', import.meta.url)));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
const { NODE_OPTIONS: _jest, ...env } = process.env;
const dev = ['--conditions=ws-outbox-source', 'packages/gateway/src/cli.ts', 'dev', '--no-limits', '--no-watch'];

test('IDLE_TIMEOUT_SECONDS closes a silent client (1001); MAX_CONNECTION_SECONDS closes a busy one', async () => {
  const child = spawn(process.execPath, dev, {
    cwd: root,
    env: { ...env, PORT: '0', DYNAMODB_PORT: '0', IDLE_TIMEOUT_SECONDS: '1', MAX_CONNECTION_SECONDS: '3' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c));
  child.stderr!.on('data', (c: Buffer) => (out += c));
  await eventually(() => /WebSocket API\s+ws:\/\/127\.0\.0\.1:\d+/.test(out), 'the banner', 60_000);
  const wsUrl = /WebSocket API\s+(ws:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
  const open = async (name: string) => TestClient.open(`${wsUrl}?token=${encodeURIComponent(await devToken(wsUrl, name))}`);
  const [silent, busy] = [await open('silent'), await open('busy')];
  const opened = Date.now();
  const pinging = setInterval(() => busy.ws.ping(), 300);
  try {
    expect(await silent.closed).toEqual({ code: 1001, reason: 'Going away: idle timeout' });
    expect(Date.now() - opened).toBeLessThan(2900);
    expect(await busy.closed).toEqual({ code: 1001, reason: 'Going away: maximum connection duration' });
    expect(Date.now() - opened).toBeGreaterThanOrEqual(2900);
  } finally {
    clearInterval(pinging);
    child.kill('SIGTERM');
  }
  await eventually(() => child.exitCode !== null, 'dev stopped', 15_000);
}, 120_000);

test('a bad value stops dev with a message naming the variable', () => {
  const run = spawnSync(process.execPath, dev, {
    cwd: root,
    env: { ...env, PORT: '0', DYNAMODB_PORT: '0', IDLE_TIMEOUT_SECONDS: '0' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(run.status).not.toBe(0);
  expect(run.stderr).toContain('IDLE_TIMEOUT_SECONDS must be a whole number of seconds (1 or more), got "0"');
});
