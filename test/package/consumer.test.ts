// The adopter path, end to end, from the text of docs/adopting.md: the two packages as npm packs
// them (prepack builds lib/ with tsc), installed into a fresh project outside the repository with
// the guide's own install commands (the package names swapped for the tarballs), the guide's files
// written from its `file=` blocks and its `step=` commands run, each in a process of its own on the
// documented Node 24 (the repository's pinned one, first on PATH):
//   strict tsc without skipLibCheck, the guide's node:test test and its Jest variant, the bin
//   (invoke, --help, errors, and the refusal on the machine's older Node), `ws-outbox dev` answering
//   real `ws` clients, `sam validate --lint` and `sam build` (SAM CLI in .venv), whose bundles then
//   run against DynamoDB and a @connections server.
// Plus what the library alone costs an adopter (a fresh install of its tarball and @middy/core).
//
// The installs read the npm cache first (`npm ci` filled it); what it lacks (package metadata)
// comes from the npm registry. Everything lives in one temp folder, removed at the end.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import WebSocket from 'ws';
import { connectionKey } from '../../src/store/keys.ts';
import { makeWsEvent } from '../../src/testing/index.ts';
import { runnableBlocks, stepCommands, type DocBlock } from '../helpers/doc-blocks.ts';
import { startDynalite } from '../helpers/dynalite.ts';
import { startManagementServer } from '../helpers/management-server.ts';
import { node24, repoRoot, runNode, tempDir } from '../helpers/node.ts';
import { describeWhen } from '../helpers/skip.ts';

const guide = 'docs/adopting.md';
const blocks = runnableBlocks(guide);
const work = tempDir('consumer');
const project = join(work, 'my-chat');
const sam = join(repoRoot, '.venv/bin/sam');

// The documented Node: a folder holding only `node` (the pinned Node 24), first on PATH, so npm,
// npx, the bin's `#!/usr/bin/env node` and make all run it; nothing of jest's NODE_OPTIONS.
const nodeBin = join(work, 'node24-bin');
mkdirSync(nodeBin, { recursive: true });
symlinkSync(realpathSync(node24), join(nodeBin, 'node'));
const systemPath = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((p) => !p.includes('node_modules'))
  .join(delimiter);
const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
  const { NODE_OPTIONS: _jest, npm_config_prefix: _prefix, ...rest } = process.env;
  return {
    ...rest,
    PATH: `${nodeBin}${delimiter}${systemPath}`,
    npm_config_update_notifier: 'false',
    CI: 'true',
    SAM_CLI_TELEMETRY: '0',
    SAM_CLI_DISABLE_VERSION_CHECK: '1',
    AWS_DEFAULT_REGION: 'us-east-1',
    ...extra,
  };
};

const run = (command: string, args: string[], cwd = project, timeout = 180_000, extra: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> =>
  spawnSync(command, args, { cwd, env: env(extra), encoding: 'utf8', timeout });
const sh = (line: string, cwd = project, timeout = 300_000): SpawnSyncReturns<string> => run('sh', ['-c', line], cwd, timeout);

const ok = (result: SpawnSyncReturns<string>, what: string): string => {
  expect({ what, status: result.status, error: result.status === 0 ? '' : `${result.error ?? ''}${result.stderr}\n${result.stdout}`.slice(-4000) }).toEqual({
    what,
    status: 0,
    error: '',
  });
  return result.stdout;
};

const version = (name: string): string => JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')).version;

interface Packed {
  filename: string;
  size: number;
  files: Array<{ path: string }>;
}
const pack = (args: string[]): Packed => {
  const out = ok(run('npm', ['pack', '--json', '--pack-destination', work, ...args], repoRoot), `npm pack ${args.join(' ')}`);
  return (JSON.parse(out) as Packed[])[0]!;
};
let library: Packed;
let gateway: Packed;

/** The guide's `npm i` line with the tarballs for our two packages and this repository's versions for the rest (the npm cache has them). */
const installCommand = (line: string): string[] => {
  const [npm, verb, ...words] = line.split(/\s+/);
  expect({ line, command: `${npm} ${verb}` }).toEqual({ line, command: 'npm i' });
  const packages = words.map((w) => {
    if (w.startsWith('-')) return w;
    if (w === 'ws-outbox') return join(work, library.filename);
    if (w === '@ws-outbox/gateway') return join(work, gateway.filename);
    return `${w}@${version(w)}`;
  });
  return ['install', ...packages, '--prefer-offline', '--no-audit', '--no-fund'];
};

const writeBlock = (block: DocBlock): void => {
  const path = join(project, block.attrs.file!);
  mkdirSync(dirname(path), { recursive: true });
  if ('merge' in block.attrs) {
    const current = JSON.parse(readFileSync(path, 'utf8'));
    const patch = JSON.parse(block.code);
    for (const [key, value] of Object.entries(patch)) current[key] = typeof value === 'object' ? { ...current[key], ...(value as object) } : value;
    writeFileSync(path, `${JSON.stringify(current, null, 2)}\n`);
  } else {
    writeFileSync(path, block.code);
  }
};
const filesOf = (variant?: string): DocBlock[] => blocks.filter((b) => 'file' in b.attrs && b.attrs.variant === variant);

const footprint = { packages: 0, megabytes: 0, names: [] as string[] };
const entries = ['ws-outbox', 'ws-outbox/store', 'ws-outbox/transport', 'ws-outbox/testing', 'ws-outbox/client', 'ws-outbox/util', '@ws-outbox/gateway'];

beforeAll(() => {
  library = pack([]);
  gateway = pack(['-w', '@ws-outbox/gateway']);
  mkdirSync(project, { recursive: true });
  for (const block of filesOf()) writeBlock(block);
  for (const line of stepCommands(blocks, 'install')) ok(run('npm', installCommand(line), project, 300_000), line);

  // The library alone, as `npm i ws-outbox @middy/core` gives it to a project that has nothing else.
  const alone = join(work, 'library-only');
  mkdirSync(alone);
  writeFileSync(join(alone, 'package.json'), '{ "name": "library-only", "private": true, "type": "module" }\n');
  const installed = ok(
    run(
      'npm',
      ['install', join(work, library.filename), `@middy/core@${version('@middy/core')}`, '--prefer-offline', '--no-audit', '--no-fund'],
      alone,
      300_000,
    ),
    'library-only install',
  );
  footprint.packages = Number(/added (\d+) packages?/.exec(installed)?.[1]);
  footprint.megabytes = Number(ok(run('du', ['-sm', 'node_modules'], alone), 'du').split(/\s/)[0]);
  footprint.names = Object.keys(JSON.parse(readFileSync(join(alone, 'package-lock.json'), 'utf8')).packages)
    .filter((p) => p.startsWith('node_modules/'))
    .map((p) => p.slice(p.lastIndexOf('node_modules/') + 'node_modules/'.length));
  process.stdout.write(`library-only install (ws-outbox + @middy/core): ${footprint.packages} packages, ${footprint.megabytes} MB\n`);
}, 600_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('the tarballs', () => {
  it('ws-outbox holds the library: compiled lib/, its sources, README and LICENSE; nothing of the gateway, the example or the tests', () => {
    const paths = library.files.map((f) => f.path);
    expect([...new Set(paths.map((p) => p.split('/')[0]))].sort()).toEqual(['LICENSE', 'README.md', 'lib', 'middleware', 'package.json', 'src']);
    expect(paths.filter((p) => /(^|\/)(test|tests|bench|fixtures|handlers|events|demo|local)\//.test(p))).toEqual([]);
    expect(paths).toEqual(
      expect.arrayContaining([
        'lib/src/index.js',
        'lib/src/index.d.ts',
        'lib/src/testing/index.js',
        'lib/src/store/index.js',
        'lib/src/transport.js',
        'lib/src/util.js',
      ]),
    );
    // About 221 KB today (the sources and lib/, as formatted); a tarball past this has picked up something users do not need.
    expect(library.size).toBeLessThan(250 * 1024);
  });

  it('@ws-outbox/gateway holds the gateway and its bin, README and LICENSE; no demo page', () => {
    const paths = gateway.files.map((f) => f.path);
    expect([...new Set(paths.map((p) => p.split('/')[0]))].sort()).toEqual(['LICENSE', 'README.md', 'bin', 'lib', 'package.json', 'src']);
    // The Python worker beside the compiled files, where the installed package looks for it.
    expect(paths).toEqual(
      expect.arrayContaining([
        'bin/ws-outbox.js',
        'lib/index.js',
        'lib/index.d.ts',
        'lib/cli.js',
        'lib/runtime.js',
        'lib/watchdog.js',
        'lib/python/bootstrap.py',
      ]),
    );
    expect(paths.filter((p) => /(^|\/)(test|demo|fixtures)\/|\.html$/.test(p))).toEqual([]);
    // About 285 KB today (its TypeScript sources, their compiled lib/, the Python worker and the
    // Lambda Invoke API); past this it picked up something.
    expect(gateway.size).toBeLessThan(320 * 1024);
  });
});

describe('the library alone', () => {
  it("installs without the gateway's emulators, bundler, TLS or JWT packages, in the size the guide says", () => {
    for (const heavy of [
      '@ws-outbox/gateway',
      'dynalite',
      'classic-level',
      'esbuild',
      'fauxqs',
      'fastify',
      'node-forge',
      'jose',
      'aws-jwt-verify',
      'ws',
      'yaml',
    ]) {
      expect({ heavy, present: footprint.names.includes(heavy) }).toEqual({ heavy, present: false });
    }
    // The guide's figures (docs/adopting.md, "Together: N packages, M MB") stay within a few of what
    // a fresh install measures. Before the package split it was 125 packages, 75 MB.
    const said = /Together: (\d+) packages, (\d+) MB/.exec(readFileSync(join(repoRoot, guide), 'utf8'));
    expect(said).not.toBeNull();
    expect(Math.abs(footprint.packages - Number(said![1]))).toBeLessThanOrEqual(3);
    expect(Math.abs(footprint.megabytes - Number(said![2]))).toBeLessThanOrEqual(4);
  });
});

describe("the guide's project (docs/adopting.md)", () => {
  it('has the blocks the guide promises, each file once', () => {
    expect(
      filesOf()
        .map((b) => b.attrs.file)
        .sort(),
    ).toEqual([
      'Makefile',
      'events/send.json',
      'handlers/connect.ts',
      'handlers/disconnect.ts',
      'handlers/send.ts',
      'package.json',
      'template.yaml',
      'test/send.test.ts',
      'tsconfig.json',
      'types/middy-durable.d.ts',
    ]);
    expect(readFileSync(join(project, 'template.yaml'), 'utf8')).toMatch(/^Transform: AWS::Serverless-2016-10-31$/m);
    expect(readFileSync(join(project, 'Makefile'), 'utf8')).toMatch(/^build-%:\n\tnpx ws-outbox build \$\* --artifacts-dir "\$\(ARTIFACTS_DIR\)"$/m);
    const manifest = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8'));
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['@middy/core', 'ws-outbox']);
    expect(Object.keys(manifest.devDependencies).sort()).toEqual(['@types/node', '@ws-outbox/gateway', 'typescript']);
  });

  it('imports every entry point in Node 24 ESM, each with exactly its public names', () => {
    const script = `for (const entry of ${JSON.stringify(entries)}) console.log(JSON.stringify([entry, Object.keys(await import(entry)).sort()]));`;
    const lines = ok(run(node24, ['--input-type=module', '-e', script]), 'import')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(Object.fromEntries(lines)).toEqual({
      'ws-outbox': [
        'ConnectionStore',
        'MemoryStore',
        'OutboxClosedError',
        'PayloadTooLargeError',
        'WsOutboxError',
        'badRequest',
        'cleanupOutbox',
        'closedExplicitly',
        'disconnectSession',
        'fanoutDefaults',
        'fanoutHandler',
        'maxPayloadBytes',
        'outbox',
        'outboxDefaults',
        'rateLimit',
        'rateLimitDefaults',
        'resumeSession',
        'sessionHandler',
        'userIdOf',
        'wsHandler',
        'wsJsonBodyParser',
      ],
      'ws-outbox/store': [
        'BatchGetCommand',
        'BatchWriteCommand',
        'ConnectionStore',
        'DeleteCommand',
        'DocumentCommand',
        'DynamoDBServiceError',
        'DynamoRateLimiter',
        'GetCommand',
        'MemoryRateLimiter',
        'MemoryRoomLog',
        'MemorySessions',
        'MemoryStore',
        'NotConnectedError',
        'PutCommand',
        'QueryCommand',
        'RoomLog',
        'SessionStore',
        'UpdateCommand',
        'connectionKey',
        'connectionShards',
        'connectionsPartition',
        'createDocumentClient',
        'createLiteDocumentClient',
        'defaultConnectionShards',
        'defaultWindowSeconds',
        'dynamoEndpoint',
        'maxUserIdLength',
        'membershipKey',
        'roomPartition',
        'roomStream',
        'sdkDocumentClient',
        'sessionKeyOf',
        'shardOf',
        'userStream',
      ],
      'ws-outbox/client': ['SendQueueFullError', 'SendTooLargeError', 'WsOutboxClient', 'backoffDefaults', 'clientDefaults', 'jwtExpiry', 'reconnectDelay'],
      'ws-outbox/transport': ['TransportError', 'destroyTransports', 'managementEndpoint'],
      'ws-outbox/testing': ['WsTestHarness', 'makeWsEvent', 'newConnectionId'],
      'ws-outbox/util': ['WsOutboxError', 'checkNumber', 'checkOptions', 'pickRules', 'withDefaults'],
      '@ws-outbox/gateway': ['BuildError', 'build', 'esbuildOptions', 'gatewayDefaults', 'runCli', 'sizeTable', 'splittingOptions', 'startGateway'],
    });
  }, 60_000);

  it("typechecks strict without skipLibCheck; the one shim is exactly what @middy/core's optional peer needs", () => {
    // Every entry point's declarations are in the program, the gateway's too (a test of the
    // adopter's may start it; testing.md shows how).
    writeFileSync(
      join(project, 'types/entry-points.ts'),
      `${entries.map((e, i) => `import * as e${i} from '${e}';`).join('\n')}\nexport const all = [${entries.map((_, i) => `e${i}`).join(', ')}];\n`,
    );
    ok(run('npm', ['run', 'typecheck']), 'npm run typecheck');
    // Without the shim, the only error is @middy/core's import of its optional peer (middyjs/middy#1694).
    const shim = join(project, 'types/middy-durable.d.ts');
    renameSync(shim, `${shim}.off`);
    const bare = run('npm', ['run', 'typecheck']);
    renameSync(`${shim}.off`, shim);
    expect(bare.stdout.split('\n').filter((l) => /error TS/.test(l))).toEqual([
      expect.stringMatching(/^node_modules\/@middy\/core\/index\.d\.ts\(\d+,\d+\): error TS2307: Cannot find module '@aws\/durable-execution-sdk-js'/),
    ]);
    // The check has teeth: a handler that uses what is not public fails it.
    const bad = join(project, 'handlers/bad.ts');
    writeFileSync(
      bad,
      "import { wsHandler } from 'ws-outbox';\nexport const handler = wsHandler(async (_e, context) => { context.outbox.discardFailed(); });\n",
    );
    const failed = run('npm', ['run', 'typecheck']);
    rmSync(bad);
    expect(failed.status).not.toBe(0);
    expect(failed.stdout).toContain("Property 'discardFailed' does not exist");
  }, 180_000);

  it('runs the Powertools stack of docs/middy-and-powertools.md: strict types, the report through its Logger, its metrics in one EMF blob', () => {
    const page = runnableBlocks('docs/middy-and-powertools.md');
    for (const line of stepCommands(page, 'powertools-install')) ok(run('npm', installCommand(line), project, 300_000), line);
    const files = page.filter((b) => 'file' in b.attrs);
    expect(files.map((b) => b.attrs.file)).toEqual(['handlers/posted.ts']);
    for (const block of files) writeBlock(block);
    ok(run('npm', ['run', 'typecheck']), 'npm run typecheck (with Powertools)');
    // Not the docs': a member of the room posts through the page's handler, with the harness.
    writeFileSync(
      join(project, 'powertools-check.ts'),
      `import { WsTestHarness } from 'ws-outbox/testing';
import { handler as connect } from './handlers/connect.ts';
import { handler as posted } from './handlers/posted.ts';
const h = new WsTestHarness();
const { connectionId } = await h.connect(connect);
await h.store.join(connectionId, 'lobby');
const { response } = await h.invoke(posted, { routeKey: 'post', connectionId, body: { action: 'post', room: 'lobby', text: 'hi' } });
console.log(JSON.stringify({ check: true, status: response.statusCode, received: h.received(connectionId) }));
`,
    );
    const lines = ok(run(node24, ['powertools-check.ts']), 'powertools-check.ts')
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    expect(lines.find((l) => l.check)).toEqual({ check: true, status: 200, received: [{ type: 'message', text: 'hi' }] });
    expect(lines.find((l) => l.message === 'ws-outbox delivery report')).toMatchObject({ service: 'chat', routeKey: 'post', sent: 1 });
    const blobs = lines.filter((l) => l._aws);
    expect(blobs).toHaveLength(1);
    expect(blobs[0]).toMatchObject({ route: 'post', MessagesPosted: 1, Sent: 1, Failed: 0 });
  }, 400_000);

  it("passes the guide's test with node:test (npm test)", () => {
    for (const line of stepCommands(blocks, 'test')) {
      const out = ok(sh(line), line);
      expect(out).toMatch(/^ℹ pass 2$/m);
      expect(out).toMatch(/^ℹ fail 0$/m);
    }
  }, 120_000);

  it("invokes one function with `ws-outbox invoke` and the guide's event", () => {
    const [line, ...rest] = stepCommands(blocks, 'invoke');
    expect(rest).toEqual([]);
    const out = ok(sh(line!, project, 120_000), line!);
    expect(out).toContain('invoke SendFunction: handlers/send.ts → dist/send/index.mjs');
    expect(out).toMatch(/POST +Cn1= +\{"type":"message","from":"Cn1=","text":"from invoke"\}/);
  }, 120_000);

  it('runs `ws-outbox dev`: real ws clients connect, and a message reaches both', async () => {
    const [line, ...rest] = stepCommands(blocks, 'dev');
    expect(rest).toEqual([]);
    // Free ports instead of the defaults (3001, 8000, 9324), which another run may hold.
    // Its own process group, stopped as Ctrl-C stops it: SIGINT to the group (npx does not pass a
    // signal of its own on to the bin).
    const child = spawn('sh', ['-c', `exec ${line}`], {
      cwd: project,
      env: env({ PORT: '0', DYNAMODB_PORT: '0', SQS_PORT: '0' }),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString();
    });
    const exited = new Promise<string>((resolve) => child.on('close', (code, signal) => resolve(`${code ?? signal}`)));
    const clients: WebSocket[] = [];
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no banner within 90 s:\n${output}`)), 90_000);
        const look = () => {
          const found = /WebSocket API +(ws:\/\/\S+)/.exec(output)?.[1];
          if (found) {
            clearTimeout(timer);
            resolve(found);
          }
        };
        child.stdout.on('data', look);
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`ws-outbox dev exited ${code}:\n${output}`));
        });
      });
      expect(output).toMatch(/Routes +\$connect → ConnectFunction, \$disconnect → DisconnectFunction, send → SendFunction/);
      const open = () =>
        new Promise<{ ws: WebSocket; next: () => Promise<unknown> }>((resolve, reject) => {
          const ws = new WebSocket(url);
          clients.push(ws);
          const queue: unknown[] = [];
          const waiting: Array<(m: unknown) => void> = [];
          ws.on('message', (data: Buffer) => {
            const message = JSON.parse(data.toString());
            const waiter = waiting.shift();
            if (waiter) waiter(message);
            else queue.push(message);
          });
          ws.once('open', () => resolve({ ws, next: () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiting.push(r))) }));
          ws.once('error', reject);
        });
      const alice = await open();
      const bob = await open();
      alice.ws.send(JSON.stringify({ action: 'send', text: 'hello' }));
      const [toAlice, toBob] = await Promise.all([alice.next(), bob.next()]);
      expect(toBob).toMatchObject({ type: 'message', text: 'hello', from: expect.any(String) });
      expect(toAlice).toEqual(toBob);
      alice.ws.send(JSON.stringify({ action: 'send', text: '' }));
      expect(await alice.next()).toEqual({ type: 'error', message: '"text" must be a non-empty string' });
      // Both leave; their $disconnect runs before the gateway is stopped.
      for (const ws of clients) ws.close();
      const deadline = Date.now() + 20_000;
      while ((output.match(/^\$disconnect +DisconnectFunction .* → 200/gm) ?? []).length < 2 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect(output.match(/^\$disconnect +DisconnectFunction .* → 200/gm)).toHaveLength(2);
    } finally {
      for (const ws of clients) ws.terminate();
      process.kill(-child.pid!, 'SIGINT');
    }
    // The gateway stops cleanly (npx itself ends on the SIGINT it got, as npm does, or with the bin's 0).
    expect(['0', 'SIGINT']).toContain(await exited);
    expect(output).toMatch(/SIGINT: stopping[^\n]*\n[\s\S]*stopped\.\n/);
    expect(output).not.toMatch(/REFUSED:|not authorized to perform|^\s*LATE SEND|LATE SEND\(s\)| → ERROR/m);
    // Nothing of it is left running: no gateway, no function instance, no watchdog.
    const left = spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter((l) => l.includes(project));
    expect(left).toEqual([]);
  }, 150_000);

  it("the Jest variant of the test passes too (npm test, after the guide's Jest set-up)", () => {
    for (const line of stepCommands(blocks, 'jest-install')) ok(run('npm', installCommand(line), project, 300_000), line);
    for (const block of filesOf('jest')) writeBlock(block);
    expect(JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')).scripts.test).toContain('jest');
    const result = sh('npm test');
    ok(result, 'npm test (jest)');
    expect(result.stderr).toMatch(/^Tests: +1 passed, 1 total$/m);
    ok(run('npm', ['run', 'typecheck']), 'npm run typecheck (with the Jest test)');
  }, 400_000);
});

describe('the ws-outbox bin', () => {
  const bin = () => join(project, 'node_modules/.bin/ws-outbox');

  it('has --help for itself and each command', () => {
    expect(ok(run(bin(), ['--help']), '--help')).toMatch(/dev .*\n.*invoke .*\n.*build /);
    for (const command of ['dev', 'invoke', 'build']) {
      expect(ok(run(bin(), [command, '--help']), `${command} --help`)).toMatch(new RegExp(`^usage: ws-outbox ${command}`));
    }
  }, 60_000);

  it('refuses an older Node loudly: non-zero, with what to do', () => {
    // The machine's own `node` (outside node_modules) when it is older than 24, as on a developer's
    // machine with Node 20; else Node 24 told it is 20, which is all the bin's check reads.
    const machine = systemPath
      .split(delimiter)
      .map((d) => join(d, 'node'))
      .find((p) => existsSync(p));
    const machineMajor = machine ? Number(spawnSync(machine, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' }).stdout.trim()) : 24;
    const older =
      machineMajor < 24
        ? run(machine!, [bin(), '--help'])
        : run(node24, [
            '--import',
            'data:text/javascript,Object.defineProperty(process,"versions",{value:{...process.versions,node:"20.19.2"}})',
            bin(),
            '--help',
          ]);
    expect(older.status).toBe(1);
    expect(older.stdout).toBe('');
    expect(older.stderr).toMatch(/^ws-outbox: Node 24 or newer is required \(Lambda's nodejs24\.x\); this is Node 2\d\.\d+\.\d+\.\n/);
    expect(older.stderr).toContain('npm i -D node@24');
    // The guide quotes the message.
    expect(readFileSync(join(repoRoot, guide), 'utf8')).toContain("`ws-outbox: Node 24 or newer is required (Lambda's nodejs24.x); this is Node 20.19.2.`");
  }, 60_000);

  it('says there is no template, and where it looked', () => {
    const empty = join(work, 'empty');
    mkdirSync(empty, { recursive: true });
    for (const args of [['dev'], ['build'], ['invoke', 'SendFunction', 'x.json']]) {
      const r = run(bin(), args, empty);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(`ws-outbox ${args[0]}: No template at ${join(empty, 'template.yaml')}`);
    }
  }, 60_000);

  it('names the handler files it looked for when a function has none', () => {
    writeFileSync(join(project, 'missing.yaml'), readFileSync(join(project, 'template.yaml'), 'utf8').replace('CodeUri: dist/send/', 'CodeUri: dist/shout/'));
    const r = run(bin(), ['build', '--template', 'missing.yaml']);
    rmSync(join(project, 'missing.yaml'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      'SendFunction: no handler file for CodeUri dist/shout/ and Handler index.handler; looked for handlers/shout.ts, handlers/shout.mts, ' +
        'handlers/shout.cts, handlers/shout.js, handlers/shout.mjs, handlers/shout.cjs, dist/shout/index.ts, dist/shout/index.mts, dist/shout/index.cts, ' +
        'dist/shout/index.js, dist/shout/index.mjs, dist/shout/index.cjs',
    );
  }, 60_000);

  it('names the functions the template has for an unknown function id', () => {
    const r = run(bin(), ['invoke', 'ShoutFunction', 'events/send.json']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('ws-outbox invoke: No function ShoutFunction in template.yaml; it has ConnectFunction, DisconnectFunction, SendFunction');
  }, 60_000);

  it('refuses an unknown command and an unknown option with the usage', () => {
    const command = run(bin(), ['deploy']);
    expect(command.status).toBe(2);
    expect(command.stderr).toContain('ws-outbox: unknown command "deploy"');
    const option = run(bin(), ['build', '--templat', 'x']);
    expect(option.status).toBe(1);
    expect(option.stderr).toMatch(/ws-outbox build: Unknown option '--templat'[\s\S]*usage: ws-outbox build/);
  }, 60_000);
});

// SAM CLI comes from `npm run validate` (it creates .venv; CI runs it before the tests).
describeWhen(
  existsSync(sam) || Boolean(process.env.CI),
  'test/package/consumer.test.ts, sam validate --lint and sam build',
  'no SAM CLI in .venv: run `npm run validate` once to install SAM CLI 1.170.0 there (CI does, and never skips these)',
)("the guide's sam validate --lint and sam build", () => {
  it('validate and build, one bundle per function, and the bundles run: $connect stores the caller, send posts to it', async () => {
    for (const line of stepCommands(blocks, 'build')) {
      expect(line).toMatch(/^sam /);
      const out = ok(sh(line.replace(/^sam /, `"${sam}" `), project, 300_000), line);
      if (line.startsWith('sam build')) expect(out).toContain('Build Succeeded');
    }
    for (const fn of ['ConnectFunction', 'DisconnectFunction', 'SendFunction']) {
      expect(existsSync(join(project, '.aws-sam/build', fn, 'index.mjs'))).toBe(true);
      expect(existsSync(join(project, '.aws-sam/build', fn, 'index.mjs.map'))).toBe(true);
      expect(readFileSync(join(project, '.aws-sam/build', fn, 'index.mjs'), 'utf8')).not.toMatch(
        /(?:^|[;}\s])(?:import|export)\s*[{*\w][^;'"]*from ?["']ws-outbox|import\(["']ws-outbox/m,
      ); // bundled in (an import statement, not a string that names the package)
    }
    expect(readdirSync(join(project, '.aws-sam/build', 'SendFunction')).sort()).toEqual(['index.mjs', 'index.mjs.map']);

    const dynalite = await startDynalite('Connections');
    const management = await startManagementServer(undefined, 'live');
    try {
      const invokeBuilt = async (fn: string, spec: Parameters<typeof makeWsEvent>[0]) => {
        const eventPath = join(work, `${fn}.event.json`);
        const resultPath = join(work, `${fn}.result.json`);
        writeFileSync(eventPath, JSON.stringify(makeWsEvent(spec)));
        const r = await runNode(
          [join(repoRoot, 'test/helpers/invoke-bundle.mjs'), join(project, '.aws-sam/build', fn, 'index.mjs'), eventPath, resultPath, '10', fn],
          {
            env: {
              PATH: process.env.PATH ?? '',
              AWS_REGION: 'us-east-1',
              AWS_ACCESS_KEY_ID: 'x',
              AWS_SECRET_ACCESS_KEY: 'y',
              TABLE_NAME: 'Connections',
              AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
              AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: management.endpoint,
              NODE_OPTIONS: '--enable-source-maps',
            },
            timeoutMs: 30_000,
          },
        );
        expect({ fn, code: r.code, stderr: r.stderr }).toEqual({ fn, code: 0, stderr: '' });
        return JSON.parse(readFileSync(resultPath, 'utf8'));
      };
      expect(await invokeBuilt('ConnectFunction', { routeKey: '$connect', connectionId: 'Alice=' })).toMatchObject({ result: { statusCode: 200 } });
      const row = await dynalite.documentClient.send(new GetCommand({ TableName: 'Connections', Key: connectionKey('Alice=') }));
      expect(row.Item).toBeDefined();
      expect(await invokeBuilt('SendFunction', { routeKey: 'send', connectionId: 'Alice=', body: { action: 'send', text: 'built' } })).toMatchObject({
        result: { statusCode: 200 },
      });
      expect(management.delivered.map((d) => [d.connectionId, JSON.parse(d.body)])).toEqual([['Alice=', { type: 'message', from: 'Alice=', text: 'built' }]]);
    } finally {
      await management.stop();
      await dynalite.stop();
    }
  }, 400_000);
});
