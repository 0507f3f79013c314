// No function worker (nor any other helper process) outlives the local gateway, however it ends:
// killed with SIGKILL, an uncaught throw, or a clean SIGTERM, with instances both frozen (SIGSTOP)
// and mid-invocation at that moment. The gateway is `npm run dev` itself (packages/gateway/src/dev.ts, file
// watching on), in a child process of this test. The processes checked are the ones found below
// that child's pid before it ends, identified by pid and start time; nothing is looked up by name.
import { afterAll, expect, test } from '@jest/globals';
import { describeWhen } from '../../../../test/helpers/skip.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeCgroupTree } from '../../src/cgroups.ts';
import { TestClient, eventually, sleep, webSocketTemplate } from './support.ts';
import { descendantsOf, hasProc, isAlive, killIfAlive, readProcess, type ProcessInfo } from './process-tree.ts';

const root = resolve(fileURLToPath(new URL('../../../..', import.meta.url)));
const fixtures = join(root, 'test/fixtures/functions');
const dir = mkdtempSync(join(tmpdir(), 'gw-orphans-'));

// Builds into the temporary folder (CodeUri is relative to the template), so these gateways never
// write where other tests' bundles are. Timeout 60 s keeps the slow invocation running for the test.
writeFileSync(
  join(dir, 'template.yaml'),
  webSocketTemplate({
    globals: '{ Runtime: nodejs24.x, Handler: index.handler, Timeout: 60, MemorySize: 256 }',
    routes: { $default: 'EchoFunction', sleep: 'SleepFunction' },
    resources: `  EchoFunction:
    Type: AWS::Serverless::Function
    Metadata: { BuildEntry: ${join(fixtures, 'echo.ts')} }
    Properties:
      CodeUri: dist/echo/
      Policies:
        - Statement:
            - { Effect: Allow, Action: execute-api:ManageConnections, Resource: !Sub 'arn:aws:execute-api:\${AWS::Region}:\${AWS::AccountId}:\${Api}/*' }
  SleepFunction:
    Type: AWS::Serverless::Function
    Metadata: { BuildEntry: ${join(fixtures, 'sleep.ts')} }
    Properties: { CodeUri: dist/sleep/ }
`,
  }),
);

/** Everything this file started, for the clean-up: gateways, and every process found below them. */
const gateways: ChildProcess[] = [];
const seen: ProcessInfo[] = [];
const clients: TestClient[] = [];

afterAll(async () => {
  for (const client of clients) client.ws.terminate();
  for (const gateway of gateways) if (gateway.exitCode === null && gateway.signalCode === null) gateway.kill('SIGKILL');
  for (const p of seen) killIfAlive(p);
  // The one case nothing cleans up (gateway and watchdog killed together) leaves its cgroups too.
  for (const gateway of gateways) {
    for (const controller of ['cpu', 'memory']) await removeCgroupTree(`/sys/fs/cgroup/${controller}/ws-outbox-${gateway.pid}`);
  }
  rmSync(dir, { recursive: true, force: true });
});

const isWorker = (p: ProcessInfo) => p.cmdline.includes('packages/gateway/src/runtime.ts');

interface Running {
  gateway: ChildProcess;
  exited: Promise<[number | null, string | null]>;
  stderr: () => string;
}

/** `npm run dev` (without npm, whose own process would sit between) on free ports, once it has printed its banner. */
const startDev = async (nodeArgs: string[] = [], extraEnv: NodeJS.ProcessEnv = {}): Promise<Running & { wsUrl: string }> => {
  const { NODE_OPTIONS: _jestOnly, ...env } = process.env;
  const gateway = spawn(
    process.execPath,
    [...nodeArgs, '--conditions=ws-outbox-source', 'packages/gateway/src/cli.ts', 'dev', '--template', join(dir, 'template.yaml')],
    {
      cwd: root,
      env: { ...env, PORT: '0', DYNAMODB_PORT: '0', ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  gateways.push(gateway);
  const exited = once(gateway, 'exit') as Promise<[number | null, string | null]>;
  let stdout = '';
  let stderr = '';
  gateway.stdout!.on('data', (chunk: Buffer) => (stdout += chunk));
  gateway.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
  await eventually(
    () => {
      if (gateway.exitCode !== null) throw new Error(`the gateway exited at start-up (${gateway.exitCode}):\n${stderr}`);
      return /ready in/.test(stdout) && /WebSocket API\s+ws:\/\/127\.0\.0\.1:\d+/.test(stdout);
    },
    'the gateway printed its banner',
    30_000,
  );
  const wsUrl = /WebSocket API\s+(ws:\/\/127\.0\.0\.1:\d+)/.exec(stdout)![1]!;
  return { gateway, exited, stderr: () => stderr, wsUrl };
};

/**
 * A gateway with four instances: three frozen (two SleepFunction, one EchoFunction), one
 * mid-invocation (a 10-minute sleep). Returns every process below the gateway at that point.
 */
const startWithWorkers = async (nodeArgs: string[] = [], extraEnv: NodeJS.ProcessEnv = {}): Promise<Running & { tree: ProcessInfo[] }> => {
  const running = await startDev(nodeArgs, extraEnv);
  const client = await TestClient.open(running.wsUrl);
  clients.push(client);
  // Sent together, so each gets its own instance; the two short ones freeze when they return.
  client.send({ action: 'sleep', ms: 600_000 });
  client.send({ action: 'sleep', ms: 100 });
  client.send({ action: 'sleep', ms: 100 });
  client.send('hello');
  await client.waitFor((d) => d?.event);
  const pid = running.gateway.pid!;
  await eventually(() => {
    const workers = descendantsOf(pid).filter(isWorker);
    return workers.filter((w) => w.state === 'T').length === 3 && workers.filter((w) => w.state !== 'T').length === 1;
  }, 'three instances are frozen and one is mid-invocation');
  const tree = descendantsOf(pid);
  seen.push(...tree);
  return { ...running, tree };
};

/** The processes of `tree` still alive after `withinMs` (as soon as none is, an empty list), and how long that took. */
const survivorsAfter = async (tree: ProcessInfo[], withinMs: number): Promise<{ survivors: string[]; ms: number }> => {
  const started = performance.now();
  const deadline = Date.now() + withinMs;
  while (tree.some(isAlive) && Date.now() < deadline) await sleep(20);
  const survivors = tree.filter(isAlive).map((p) => `${p.pid} (state ${readProcess(p.pid)?.state}) ${p.cmdline}`);
  return { survivors, ms: Math.round(performance.now() - started) };
};

describeWhen(
  hasProc,
  'packages/gateway/test/gateway/orphans.test.ts, workers never outlive the gateway',
  'no /proc here (the check reads process trees from it): run on Linux',
)('function workers never outlive the gateway', () => {
  test('SIGKILL to the gateway: frozen and running workers, and every helper, are gone within seconds', async () => {
    const { gateway, exited, tree } = await startWithWorkers();
    expect(tree.filter(isWorker)).toHaveLength(4);
    // The helpers are below the gateway too, and must end with it: esbuild's service (kept by the
    // build API for rebuilds) and the workers' watchdog.
    expect(tree.filter((p) => p.cmdline.includes('esbuild') && p.cmdline.includes('--service'))).toHaveLength(1);
    expect(tree.filter((p) => p.cmdline.includes('packages/gateway/src/watchdog.ts'))).toHaveLength(1);
    // Its instances' cgroups (where this runs as root with cgroups): the watchdog removes them too.
    const cgroups = ['cpu', 'memory'].map((c) => `/sys/fs/cgroup/${c}/ws-outbox-${gateway.pid}`).filter((path) => existsSync(path));
    process.kill(gateway.pid!, 'SIGKILL');
    expect(await exited).toEqual([null, 'SIGKILL']);
    const { survivors } = await survivorsAfter(tree, 5_000);
    expect(survivors).toEqual([]);
    await eventually(() => cgroups.every((path) => !existsSync(path)), `the watchdog removed ${cgroups.join(', ') || 'no cgroup'}`, 5_000);
  }, 90_000);

  test('an uncaught throw in the gateway: nothing is left', async () => {
    // A preload that throws from a signal handler: an uncaught exception inside the real dev.ts process.
    const { gateway, exited, tree, stderr } = await startWithWorkers([
      '--import',
      `data:text/javascript,process.on('SIGUSR2', () => { throw new Error('thrown in the gateway'); })`,
    ]);
    process.kill(gateway.pid!, 'SIGUSR2');
    expect(await exited).toEqual([1, null]);
    expect(stderr()).toContain('thrown in the gateway');
    const { survivors } = await survivorsAfter(tree, 5_000);
    expect(survivors).toEqual([]);
  }, 90_000);

  test('SIGTERM to the gateway alone (not its process group): a clean stop leaves nothing', async () => {
    const { gateway, exited, tree } = await startWithWorkers();
    process.kill(gateway.pid!, 'SIGTERM');
    expect(await exited).toEqual([0, null]);
    const { survivors } = await survivorsAfter(tree, 5_000);
    expect(survivors).toEqual([]);
  }, 90_000);

  test('SIGHUP (the terminal closed) stops it like SIGTERM: exit 0, nothing left, its temporary folder removed', async () => {
    // Its own TMPDIR, so the folders it makes (bundles, the local CA) are the only ones in it.
    const tmp = mkdtempSync(join(dir, 'tmp-'));
    const { gateway, exited, tree } = await startWithWorkers([], { TMPDIR: tmp });
    expect(readdirSync(tmp).length).toBeGreaterThan(0);
    process.kill(gateway.pid!, 'SIGHUP');
    expect(await exited).toEqual([0, null]);
    const { survivors } = await survivorsAfter(tree, 5_000);
    expect(survivors).toEqual([]);
    expect(readdirSync(tmp)).toEqual([]);
  }, 90_000);

  test('gateway and watchdog SIGKILLed together: the running instance still ends, as its IPC channel closes', async () => {
    // The one case the watchdog cannot cover; frozen instances then stay (afterAll kills them).
    const { gateway, exited, tree } = await startWithWorkers();
    const watchdog = tree.find((p) => p.cmdline.includes('packages/gateway/src/watchdog.ts'))!;
    const running = tree.filter((p) => isWorker(p) && p.state !== 'T');
    expect(running).toHaveLength(1);
    process.kill(watchdog.pid, 'SIGKILL');
    process.kill(gateway.pid!, 'SIGKILL');
    await exited;
    const { survivors } = await survivorsAfter(running, 5_000);
    expect(survivors).toEqual([]);
  }, 90_000);

  test('a watchdog killed with SIGKILL is replaced, and the replacement still covers every worker', async () => {
    const { gateway, exited, tree } = await startWithWorkers();
    const isWatchdog = (p: ProcessInfo) => p.cmdline.includes('packages/gateway/src/watchdog.ts');
    const [watchdog, ...others] = tree.filter(isWatchdog);
    expect(watchdog).toBeDefined();
    expect(others).toEqual([]);
    process.kill(watchdog!.pid, 'SIGKILL');
    let replacement: ProcessInfo | undefined;
    await eventually(
      () => {
        replacement = descendantsOf(gateway.pid!).find((p) => isWatchdog(p) && p.pid !== watchdog!.pid && p.state !== 'Z');
        return replacement !== undefined;
      },
      'the gateway started a new watchdog',
      5_000,
    );
    seen.push(replacement!);
    // Let the replacement read the workers the gateway hands it before the gateway goes.
    await sleep(300);
    process.kill(gateway.pid!, 'SIGKILL');
    await exited;
    const { survivors } = await survivorsAfter([...tree, replacement!], 5_000);
    expect(survivors).toEqual([]);
  }, 90_000);
});
