// An instance that dies while frozen (killed from outside, the OOM killer) can be handed the next
// invocation before its exit is seen. Writing to it then fails (EPIPE); that once surfaced as an
// unhandled 'error' event, which ended the whole process (a CI run lost a test suite to it).
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FunctionModel } from '../../src/app-model.ts';
import { FunctionPool } from '../../src/function-pool.ts';
import { InvocationLedger } from '../../src/invocations.ts';
import { createLogger } from '../../src/log.ts';
import { startWorkerGuard } from '../../src/worker-guard.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pool-dead-'));
  writeFileSync(join(dir, 'index.mjs'), 'let calls = 0;\nexport const handler = async () => ({ calls: ++calls, pid: process.pid });\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Blocks this thread (its event loop too), so that a child's exit cannot be seen meanwhile. */
const blockFor = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

test('an invocation handed to an instance that died while frozen ends as its exit, and the next gets a new instance', async () => {
  const lines: string[] = [];
  const log = createLogger({ write: (text) => lines.push(text) });
  const guard = startWorkerGuard({ log });
  const fn = {
    logicalId: 'Echo',
    functionName: 'echo',
    handler: 'index.handler',
    runtime: 'nodejs24.x',
    timeoutSeconds: 5,
    memoryMb: 128,
    environment: {},
    spec: { entry: join(dir, 'index.mjs') },
  } as unknown as FunctionModel;
  const pool = new FunctionPool({ fn, codeFile: join(dir, 'index.mjs'), env: {}, ledger: new InvocationLedger(), log, guard, enforceMemory: false });
  try {
    const first = await pool.invoke({});
    expect(first).toMatchObject({ status: 'ok', result: { calls: 1 } });
    const pid = (first as { result: { pid: number } }).result.pid;
    process.kill(pid, 'SIGKILL');
    // Dead for sure, and its pipe closed, before this process may look at its exit.
    blockFor(300);
    const second = await pool.invoke({});
    expect(second).toMatchObject({ status: 'error', error: { errorType: 'Runtime.ExitError' } });
    expect((second as { error: { errorMessage: string } }).error.errorMessage).toMatch(/signal: killed/);
    const third = await pool.invoke({});
    expect(third).toMatchObject({ status: 'ok', result: { calls: 1 } });
    expect((third as { result: { pid: number } }).result.pid).not.toBe(pid);
  } finally {
    await pool.stop();
    await guard.stop();
  }
});
