// ws-outbox as an adopter gets it: `npm pack` (prepack builds lib/ with tsc), the tarball installed
// into a fresh project (test/fixtures/consumer: its own template, handlers and a harness test),
// then everything that project does with it, each in a Node 24 process of its own:
// ESM imports of the three entry points, strict `tsc --noEmit`, the harness test, the `ws-outbox`
// bin (build, invoke, errors, --help) and the bundles behind `startGateway` from ws-outbox/local.
//
// The install reads the npm cache first (`npm ci` filled it with every tarball); what it lacks
// (package metadata) comes from the npm registry.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { node24, repoRoot, tempDir } from '../helpers/node.ts';

const fixture = join(repoRoot, 'test/fixtures/consumer');
const work = tempDir('consumer');
const project = join(work, 'project');

// The consumer runs the pinned Node 24 (node_modules/.bin first on PATH, as in npm scripts), with
// nothing of jest's environment (NODE_OPTIONS=--experimental-vm-modules).
const env = (): NodeJS.ProcessEnv => {
  const { NODE_OPTIONS: _jest, ...rest } = process.env;
  return { ...rest, PATH: `${dirname(node24)}:${process.env.PATH ?? ''}`, npm_config_update_notifier: 'false', CI: 'true' };
};

const run = (command: string, args: string[], cwd = project, timeout = 120_000): SpawnSyncReturns<string> =>
  spawnSync(command, args, { cwd, env: env(), encoding: 'utf8', timeout });

const ok = (result: SpawnSyncReturns<string>, what: string): string => {
  expect({ what, status: result.status, stderr: result.status === 0 ? '' : `${result.stderr}\n${result.stdout}` }).toEqual({ what, status: 0, stderr: '' });
  return result.stdout;
};

/** The last line of output that is JSON (the scripts print one; the Powertools logger prints others before it). */
const lastJson = (stdout: string): any => JSON.parse(stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1)!);

const version = (name: string): string => JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')).version;

interface Packed { filename: string; size: number; unpackedSize: number; files: Array<{ path: string }> }
let packed: Packed;

beforeAll(() => {
  mkdirSync(project, { recursive: true });
  const pack = run('npm', ['pack', '--json', '--pack-destination', work], repoRoot);
  packed = (JSON.parse(ok(pack, 'npm pack')) as Packed[])[0]!;
  cpSync(fixture, project, { recursive: true });
  // The same versions as this repository's, so the npm cache has them.
  writeFileSync(join(project, 'package.json'), JSON.stringify({
    name: 'consumer', private: true, type: 'module',
    dependencies: { 'ws-outbox': `file:../${packed.filename}` },
    devDependencies: Object.fromEntries(['typescript', '@types/node', '@aws-lambda-powertools/logger', '@aws-lambda-powertools/metrics']
      .map((name) => [name, version(name)])),
  }, null, 2));
  ok(run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], project, 300_000), 'npm install');
}, 360_000);


describe('the tarball', () => {
  it('holds the compiled package only: no tests, benchmarks, fixtures or TypeScript sources', () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths.filter((p) => !p.startsWith('lib/')).sort()).toEqual(['README.md', 'package.json']);
    expect(paths.filter((p) => /(^|\/)(test|tests|bench|fixtures|handlers|events)\//.test(p))).toEqual([]);
    expect(paths.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts'))).toEqual([]);
    expect(paths).toEqual(expect.arrayContaining(['lib/src/index.js', 'lib/src/index.d.ts', 'lib/src/testing/index.js', 'lib/src/local/index.js', 'lib/src/local/cli.js', 'lib/src/local/runtime.js', 'lib/src/local/watchdog.js', 'lib/src/local/demo/index.html']));
    // About 210 KB today (the fan-out worker and the embedded SQS's front added ~10 KB); a tarball
    // past this has picked up something users do not need.
    expect(packed.size).toBeLessThan(240 * 1024);
  });

  it('installs with its dependencies and the ws-outbox bin', () => {
    const installed = JSON.parse(readFileSync(join(project, 'node_modules/ws-outbox/package.json'), 'utf8'));
    expect(installed.peerDependencies).toEqual({ '@middy/core': expect.any(String) });
    expect(existsSync(join(project, 'node_modules/@middy/core/package.json'))).toBe(true);
    expect(existsSync(join(project, 'node_modules/.bin/ws-outbox'))).toBe(true);
    expect(readdirSync(join(project, 'node_modules/ws-outbox')).sort()).toEqual(['README.md', 'lib', 'package.json']);
  });
});

describe('an adopter project', () => {
  it('imports every entry point in Node 24 ESM, each with exactly its public names', () => {
    const script = `for (const entry of ['ws-outbox', 'ws-outbox/testing', 'ws-outbox/local']) {
      const m = await import(entry); console.log(JSON.stringify([entry, Object.keys(m).sort()]));
    }`;
    const lines = ok(run(node24, ['--input-type=module', '-e', script]), 'import').trim().split('\n').map((l) => JSON.parse(l));
    expect(Object.fromEntries(lines)).toEqual({
      'ws-outbox': ['ConnectionStore', 'DynamoRateLimiter', 'MemoryRateLimiter', 'MemoryStore', 'NotConnectedError', 'OutboxClosedError',
        'PayloadTooLargeError', 'TransportError', 'badRequest', 'cleanupOutbox', 'createDocumentClient', 'defaultConnectionShards', 'destroyTransports',
        'fanoutDefaults', 'fanoutHandler', 'managementEndpoint', 'maxPayloadBytes', 'outbox', 'outboxDefaults', 'rateLimit', 'rateLimitDefaults',
        'shardOf', 'wsHandler', 'wsJsonBodyParser'],
      'ws-outbox/testing': ['WsTestHarness', 'makeWsEvent', 'newConnectionId'],
      'ws-outbox/local': ['BuildError', 'build', 'gatewayDefaults', 'startGateway'],
    });
  });

  it('typechecks its handlers (with the Powertools stack) and its harness test with tsc --noEmit, strict', () => {
    ok(run(join(project, 'node_modules/.bin/tsc'), ['-p', '.']), 'tsc');
    // The check has teeth: a handler that uses what is not public fails it.
    const bad = join(project, 'handlers/bad.ts');
    writeFileSync(bad, "import { wsHandler } from 'ws-outbox';\nexport const handler = wsHandler(async (_e, context) => { context.outbox.discardFailed(); });\n");
    const failed = run(join(project, 'node_modules/.bin/tsc'), ['-p', '.']);
    expect(failed.status).not.toBe(0);
    expect(failed.stdout).toContain("Property 'discardFailed' does not exist");
    writeFileSync(bad, '');
  });

  it('runs its harness test (ws-outbox/testing) with the Powertools logger and metrics', () => {
    const stdout = ok(run(node24, ['harness-check.ts']), 'harness-check.ts');
    expect(lastJson(stdout)).toMatchObject({
      status: 200, sent: 1, badStatus: 400,
      received: [{ type: 'echo', text: 'hi' }, { type: 'error', message: '"text" must be a string' }],
    });
    // The report line went through the Powertools Logger, the report's metrics into logMetrics' EMF blob.
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.find((l) => l.message === 'ws-outbox delivery report')).toMatchObject({ service: 'echo', routeKey: 'echo', sent: 1 });
    expect(lines.find((l) => l._aws)).toMatchObject({ route: 'echo', Sent: 1, Failed: 0 });
  });

  it('bundles its functions with `ws-outbox build`, from handlers/<CodeUri folder>.ts', () => {
    const stdout = ok(run(join(project, 'node_modules/.bin/ws-outbox'), ['build']), 'ws-outbox build');
    expect(stdout).toMatch(/^EchoFunction +dist\/echo\/index\.mjs/m);
    expect(stdout).toMatch(/^2 functions/m);
    const bundle = readFileSync(join(project, 'dist/echo/index.mjs'), 'utf8');
    expect(bundle).not.toMatch(/from ?["']ws-outbox/); // bundled in, not imported at run time
  });

  it('runs the bundles behind startGateway from ws-outbox/local: a real client gets its echo', () => {
    const stdout = ok(run(node24, ['gateway-check.mjs'], project, 60_000), 'gateway-check.mjs');
    expect(lastJson(stdout)).toMatchObject({ message: { type: 'echo', text: 'through the gateway' }, built: ['ConnectFunction', 'EchoFunction'] });
  }, 60_000);

  it('invokes one function with `ws-outbox invoke`', () => {
    const stdout = ok(run(join(project, 'node_modules/.bin/ws-outbox'), ['invoke', 'EchoFunction', 'events/echo.json'], project, 60_000), 'ws-outbox invoke');
    expect(stdout).toContain('invoke EchoFunction: handlers/echo.ts → dist/echo/index.mjs');
    expect(stdout).toMatch(/POST +Cn1= +\{"type":"echo","text":"from invoke","from":"Cn1="\}/);
  }, 60_000);
});

describe('the ws-outbox bin', () => {
  const bin = () => join(project, 'node_modules/.bin/ws-outbox');

  it('has --help for itself and each command', () => {
    expect(ok(run(bin(), ['--help']), '--help')).toMatch(/dev .*\n.*invoke .*\n.*build /);
    for (const command of ['dev', 'invoke', 'build']) {
      expect(ok(run(bin(), [command, '--help']), `${command} --help`)).toMatch(new RegExp(`^usage: ws-outbox ${command}`));
    }
  });

  it('says there is no template, and where it looked', () => {
    const empty = join(work, 'empty');
    mkdirSync(empty, { recursive: true });
    for (const args of [['dev'], ['build'], ['invoke', 'EchoFunction', 'x.json']]) {
      const r = run(bin(), args, empty);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(`ws-outbox ${args[0]}: No template at ${join(empty, 'template.yaml')}`);
    }
  });

  it('names the handler files it looked for when a function has none', () => {
    writeFileSync(join(project, 'missing.yaml'), readFileSync(join(project, 'template.yaml'), 'utf8').replace('CodeUri: dist/echo/', 'CodeUri: dist/shout/'));
    const r = run(bin(), ['build', '--template', 'missing.yaml']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('EchoFunction: no handler file for CodeUri dist/shout/ and Handler index.handler; looked for handlers/shout.ts, handlers/shout.mts, '
      + 'handlers/shout.cts, handlers/shout.js, handlers/shout.mjs, handlers/shout.cjs, dist/shout/index.ts, dist/shout/index.mts, dist/shout/index.cts, '
      + 'dist/shout/index.js, dist/shout/index.mjs, dist/shout/index.cjs');
  });

  it('names the functions the template has for an unknown function id', () => {
    const r = run(bin(), ['invoke', 'ShoutFunction', 'events/echo.json']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('ws-outbox invoke: No function ShoutFunction in template.yaml; it has ConnectFunction, EchoFunction');
  });

  it('refuses an unknown command and an unknown option with the usage', () => {
    const command = run(bin(), ['deploy']);
    expect(command.status).toBe(2);
    expect(command.stderr).toContain('ws-outbox: unknown command "deploy"');
    const option = run(bin(), ['build', '--templat', 'x']);
    expect(option.status).toBe(1);
    expect(option.stderr).toMatch(/ws-outbox build: Unknown option '--templat'[\s\S]*usage: ws-outbox build/);
  });
});
