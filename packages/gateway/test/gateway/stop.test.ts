// Stopping the gateway ends the invocations still running (it never waits on a handler). Those
// are the stop's doing, not the function's failure: they are logged as STOPPED at info level,
// never as an error (before, every test that closed its clients and stopped printed
// `Runtime.ExitError … signal: killed` or `the runtime exited during init (SIGKILL)`).
import { expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway } from '../../src/gateway.ts';
import { createLogger } from '../../src/log.ts';
import { TestClient, sleep } from './support.ts';

test('an invocation in flight at stop() is logged as STOPPED, with no error line', async () => {
  const outdir = mkdtempSync(join(tmpdir(), 'gw-stop-'));
  const info: string[] = [];
  const errors: string[] = [];
  const logger = createLogger({
    write: (text) => {
      info.push(text);
    },
  });
  const gateway = await startGateway({
    template: 'test/fixtures/mechanics-template.yaml',
    port: 0,
    dynamodbPort: 0,
    outdir,
    logger: {
      ...logger,
      error: (m) => {
        errors.push(m);
      },
    },
  });
  try {
    const client = await TestClient.open(gateway.wsUrl);
    client.send({ action: 'sleep', ms: 900 }); // SleepFunction's Timeout is 1 s
    await sleep(400); // in its cold start or running: either way, in flight
    client.ws.terminate();
  } finally {
    await gateway.stop();
    rmSync(outdir, { recursive: true, force: true });
  }
  await sleep(100);
  expect(info.join('')).toMatch(/^sleep +SleepFunction \S+ → STOPPED \(\d+ ms[^)]*\): ended by the gateway's stop$/m);
  expect(errors).toEqual([]);
}, 60_000);
