// build.mjs: real esbuild, real bundles, each loaded in a fresh Node 24 process as Lambda would.
// Output goes to a temp folder (the outdir option), never dist/, so concurrent runs cannot collide.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import { build, BuildError, esbuildOptions, type BuiltFunction } from '../../../build.mjs';
import { functionsOf, loadTemplate } from '../../../packages/gateway/src/template.ts';
import { node24, repoRoot, runNode, tempDir } from '../../helpers/node.ts';

// A template with routes of its own (wsHandler functions), never the example app's.
const templatePath = join(repoRoot, 'test/fixtures/rules/template.yaml');

// A Lambda bundle that grows past this has picked up something it should not (a CJS copy of the
// SDK, hundreds of KB; a dev dependency). Today's bundles, unsplit as this template builds them, are
// ~514 KB: the SDK's DynamoDB, SQS and management clients, their shared core and credential chain,
// Middy, and our code (acknowledged client sends took it past the old 512 KB budget by 2 KB).
const bundleBudgetBytes = 576 * 1024;
// Never in a Lambda bundle: dev tools, the local gateway, test helpers.
const forbiddenInputs = [
  /^dynalite$/,
  /^ws$/,
  /^esbuild$/,
  /^yaml$/,
  /^jest/,
  /^@jest\//,
  /^aws-sdk-client-mock/,
  /(^|\/)packages\/gateway\//,
  /(^|\/)src\/testing\/(?!overrides\.ts$)/,
  /(^|\/)test\/(helpers|framework|app|package)\//,
];
// (src/testing/overrides.ts is in on purpose: a few bytes that let the harness inject a store.)

describe('build.mjs on a template', () => {
  const outdir = tempDir('build');
  let built: BuiltFunction[];
  beforeAll(async () => {
    built = await build({ template: templatePath, outdir });
  }, 60_000);

  it('builds one bundle per template function, at <outdir>/<CodeUri folder>/index.mjs with an external map', () => {
    const expected = functionsOf(loadTemplate(templatePath))
      .map((f) => f.logicalId)
      .sort();
    expect(built.map((b) => b.logicalId).sort()).toEqual(expected);
    for (const b of built) {
      expect(b.outfile).toMatch(new RegExp(`^${outdir}/[a-z]+/index\\.mjs$`));
      const code = readFileSync(b.outfile, 'utf8');
      expect(code.trimEnd().endsWith('//# sourceMappingURL=index.mjs.map')).toBe(true);
      const map = JSON.parse(readFileSync(`${b.outfile}.map`, 'utf8')) as { sources: string[]; sourcesContent?: unknown };
      expect(map.sources.some((s) => s.endsWith(`handlers/${b.outfile.split('/').at(-2)}.ts`))).toBe(true);
      expect(map.sourcesContent).toBeUndefined();
      // The project's own files in the bundle (what `ws-outbox dev` watches): the handler and the framework, no package.
      expect(b.sources).toContain(b.entry);
      expect(b.sources).toContain(join(repoRoot, 'middleware/outbox.ts'));
      expect(b.sources.filter((f) => f.includes('node_modules'))).toEqual([]);
    }
  });

  it('uses the agreed esbuild settings', () => {
    expect(esbuildOptions).toMatchObject({
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node24',
      minify: true,
      sourcemap: 'linked',
      external: [],
    });
    expect(String((esbuildOptions.banner as { js: string }).js)).toContain('createRequire');
  });

  it('bundles every package: at run time a bundle imports Node built-ins only', () => {
    for (const b of built) {
      expect(b.externals.length).toBeGreaterThan(0);
      for (const path of b.externals) expect(isBuiltin(path)).toBe(true);
    }
  });

  it('keeps bundles lean: under budget, and no dev tool, gateway or test code inside', () => {
    for (const b of built) {
      expect(b.bytes).toBeLessThan(bundleBudgetBytes);
      const smuggled = b.inputs.filter((i) => forbiddenInputs.some((re) => re.test(i.name))).map((i) => i.name);
      expect(`${b.logicalId}: ${smuggled.join(', ')}`).toBe(`${b.logicalId}: `);
      // The ES module build of the SDK, which tree-shakes; the CJS build would be dist-cjs.
      if (b.logicalId !== 'AuthorizerFunction') expect(b.inputs.find((i) => i.name === '@aws-sdk/client-dynamodb')).toBeDefined();
    }
  });

  it('each bundle loads in a fresh Node 24 process and exports handler as a function', async () => {
    const probe =
      'const m = await import(process.argv[1]); console.log(JSON.stringify({ node: process.versions.node, handler: typeof m.handler, exports: Object.keys(m) }));';
    for (const b of built) {
      // Lambda sets these; importing must not need anything else (no I/O at import time).
      const run = await runNode(['--enable-source-maps', '--input-type=module', '-e', probe, b.outfile], {
        cwd: outdir,
        env: { PATH: process.env.PATH, TABLE_NAME: 'probe', AWS_REGION: 'us-east-1' },
      });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const out = JSON.parse(run.stdout) as { node: string; handler: string; exports: string[] };
      expect(Number(out.node.split('.')[0])).toBeGreaterThanOrEqual(24);
      expect(out).toMatchObject({ handler: 'function', exports: ['handler'] });
    }
  }, 60_000);

  it('builds only the functions asked for', async () => {
    const one = await build({ template: templatePath, outdir: tempDir('build-one'), functions: ['PingFunction'] });
    expect(one.map((b) => b.logicalId)).toEqual(['PingFunction']);
    await expect(build({ template: templatePath, outdir: tempDir('build-none'), functions: ['NoSuchFunction'] })).rejects.toThrow(
      /No such function.*NoSuchFunction/,
    );
  });
});

describe('build.mjs errors', () => {
  // A throwaway project: template + sources in a temp folder.
  const fixture = (files: Record<string, string>): string => {
    const dir = tempDir('build-fixture');
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    return join(dir, 'template.yaml');
  };
  const fn = (id: string, codeUri: string, extra = '') =>
    `  ${id}:\n    Type: AWS::Serverless::Function\n${extra}    Properties: { CodeUri: ${codeUri}, Handler: index.handler, Runtime: nodejs24.x }\n`;

  it('splits a function that asks for it (Metadata Splitting: true): dynamic imports in chunks/, loaded on first use; others stay one file', async () => {
    const template = fixture({
      'template.yaml': `Resources:\n${fn('SplitFunction', 'dist/split/', '    Metadata: { Splitting: true }\n')}${fn('WholeFunction', 'dist/whole/', '    Metadata: { BuildEntry: handlers/split.ts }\n')}`,
      // Built-ins imported as ES modules, default and named: required in the split bundle.
      'handlers/split.ts':
        "import { STATUS_CODES } from 'node:http';\nimport fs from 'node:fs';\n" +
        "export const handler = async () => (STATUS_CODES[200] === 'OK' && typeof fs.readFileSync === 'function' ? (await import('./lazy.ts')).answer() : -1);\n",
      'handlers/lazy.ts': `export const answer = () => '${'x'.repeat(2000)}'.split('').length;\n`,
    });
    const out = tempDir('split-out');
    const [split, whole] = await build({ template, outdir: out });
    const lazyChunks = () => readdirSync(join(out, 'split', 'chunks')).filter((f) => /^lazy-.*\.mjs$/.test(f));
    const firstLazy = lazyChunks();
    expect(firstLazy).toHaveLength(1);
    expect(split!.initBytes).toBeLessThan(2000); // the handler, esbuild's interop helpers; not the 2,000-character lazy module
    expect(split!.bytes - split!.initBytes).toBeGreaterThan(2000);
    expect(existsSync(join(out, 'whole', 'chunks'))).toBe(false);
    expect(whole!.initBytes).toBe(whole!.bytes);
    // Split: node:http through require() (no ESM facade, so no undici at init); one file: as imported.
    const splitCode = [
      split!.outfile,
      ...readdirSync(join(out, 'split', 'chunks'))
        .filter((f) => f.endsWith('.mjs'))
        .map((f) => join(out, 'split', 'chunks', f)),
    ]
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    expect(splitCode).not.toMatch(/from\s*"node:http"/);
    expect(splitCode).toMatch(/\w\("node:http"\)/); // esbuild's __require shim, through the banner's require()
    expect(readFileSync(whole!.outfile, 'utf8')).toMatch(/from\s*"node:http"/);
    for (const b of [split!, whole!]) {
      const run = await runNode(['--input-type=module', '-e', 'console.log(await (await import(process.argv[1])).handler())', b.outfile], { cwd: out });
      expect({ stdout: run.stdout.trim(), code: run.code }).toEqual({ stdout: '2000', code: 0 });
    }
    // A rebuild with other code leaves no stale chunk behind.
    writeFileSync(join(template, '..', 'handlers/lazy.ts'), "export const answer = () => 'changed'.split('').length;\n");
    await build({ template, outdir: out, functions: ['SplitFunction'] });
    expect(lazyChunks()).toHaveLength(1);
    expect(lazyChunks()).not.toEqual(firstLazy);
    const bad = fixture({
      'template.yaml': `Resources:\n${fn('OddFunction', 'dist/odd/', "    Metadata: { Splitting: 'yes' }\n")}`,
      'handlers/odd.ts': 'export const handler = () => 1;\n',
    });
    await expect(build({ template: bad, outdir: tempDir('odd') })).rejects.toThrow(/OddFunction: Metadata.Splitting must be true or false/);
  });

  it('names the function and the missing file when a handler source does not exist', async () => {
    const template = fixture({ 'template.yaml': `Resources:\n${fn('GhostFunction', 'dist/ghost/')}` });
    const error = await build({ template, outdir: tempDir('out') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BuildError);
    const extensions = ['ts', 'mts', 'cts', 'js', 'mjs', 'cjs'];
    expect((error as Error).message).toBe(
      'GhostFunction: no handler file for CodeUri dist/ghost/ and Handler index.handler; looked for ' +
        [...extensions.map((ext) => `handlers/ghost.${ext}`), ...extensions.map((ext) => `dist/ghost/index.${ext}`)]
          .map((path) => join(template, '..', path))
          .join(', ') +
        '. Create one of them, or name the file with Metadata: { BuildEntry: path/to/file.ts } on the function.',
    );
  });

  it('finds handlers/<name> as .mts, .js or .mjs when there is no .ts', async () => {
    const template = fixture({
      'template.yaml': `Resources:\n${fn('PlainFunction', 'dist/plain/')}`,
      'handlers/plain.mjs': 'export const handler = async () => ({ statusCode: 204 });\n',
    });
    const [b] = await build({ template, outdir: tempDir('out') });
    expect(b!.entry).toBe(join(template, '..', 'handlers', 'plain.mjs'));
  });

  it('fails clearly when the bundle exports no handler, naming what it does export', async () => {
    const template = fixture({
      'template.yaml': `Resources:\n${fn('QuietFunction', 'dist/quiet/')}`,
      'handlers/quiet.ts': 'export const main = async () => ({ statusCode: 200 });\n',
    });
    await expect(build({ template, outdir: tempDir('out') })).rejects.toThrow(
      /QuietFunction: .*quiet\.ts exports no `handler` \(Handler: index\.handler\); it exports `main`/,
    );
  });

  it('honours Metadata.BuildEntry (relative to the template) for sources outside handlers/', async () => {
    const template = fixture({
      'template.yaml': `Resources:\n${fn('EchoFunction', 'dist/echo/', '    Metadata: { BuildEntry: fixtures/echo.ts }\n')}`,
      'fixtures/echo.ts': 'export const handler = async (event: { body?: string }) => ({ statusCode: 200, body: event.body });\n',
    });
    const out = tempDir('out');
    const [b] = await build({ template, outdir: out });
    expect(b!.entry).toBe(join(template, '..', 'fixtures', 'echo.ts'));
    expect(b!.outfile).toBe(join(out, 'echo', 'index.mjs'));
    const run = await runNode([
      '--input-type=module',
      '-e',
      'const { handler } = await import(process.argv[1]); console.log(JSON.stringify(await handler({ body: "hi" })));',
      b!.outfile,
    ]);
    expect(JSON.parse(run.stdout)).toEqual({ statusCode: 200, body: 'hi' });
  });

  it('maps stack traces back to the TypeScript source under --enable-source-maps (as the template sets)', async () => {
    const template = fixture({
      'template.yaml': `Resources:\n${fn('BoomFunction', 'dist/boom/')}`,
      'handlers/boom.ts': 'type Event = { why: string };\n\nexport const handler = async (event: Event) => {\n  throw new Error(`boom: ${event.why}`);\n};\n',
    });
    const [b] = await build({ template, outdir: tempDir('out') });
    const script = 'const { handler } = await import(process.argv[1]); try { await handler({ why: "test" }); } catch (e) { console.log(e.stack); }';
    const mapped = await runNode(['--enable-source-maps', '--input-type=module', '-e', script, b!.outfile]);
    expect(mapped.stdout).toMatch(/boom: test\n\s+at .*handlers\/boom\.ts:4:/);
    const unmapped = await runNode(['--input-type=module', '-e', script, b!.outfile]);
    expect(unmapped.stdout).not.toContain('boom.ts');
  });

  it('reports a syntax error with the function and the file', async () => {
    const template = fixture({
      'template.yaml': `Resources:\n${fn('BrokenFunction', 'dist/broken/')}`,
      'handlers/broken.ts': 'export const handler = async () => {\n',
    });
    await expect(build({ template, outdir: tempDir('out') })).rejects.toThrow(/BrokenFunction: esbuild failed on .*broken\.ts/);
  });
});

describe('build.mjs as a CLI', () => {
  it('prints a size table with every function and exits 0', async () => {
    const out = tempDir('cli');
    const run = await runNode(['build.mjs', '--template', templatePath, '--outdir', out], { timeoutMs: 60_000 });
    expect(run.code).toBe(0);
    for (const id of ['HelloFunction', 'ByeFunction', 'FallbackFunction', 'PingFunction', 'KickFunction']) {
      expect(run.stdout).toMatch(new RegExp(`^${id} +\\S+index\\.mjs +\\d+\\.\\d KB +\\d+\\.\\d KB +\\d+\\.\\d KB +@`, 'm'));
    }
    expect(run.stdout).toMatch(/^5 functions, \d+\.\d KB in total$/m);
  }, 60_000);

  it('exits 1 with only the message on a user error', async () => {
    const run = await runNode(['build.mjs', '--template', templatePath, '--outdir', tempDir('cli'), 'NoSuchFunction']);
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toMatch(/^ws-outbox build: No such function in .*template\.yaml: NoSuchFunction/);
    expect(run.stderr).not.toMatch(/\bat .*build\.mjs/); // no stack trace for a user error
  });

  it('has no side effects on import', async () => {
    const cwd = tempDir('import');
    const run = await runNode(['--input-type=module', '-e', `await import(${JSON.stringify(join(repoRoot, 'build.mjs'))}); console.log('imported');`], { cwd });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('imported\n');
  });

  it('runs on the pinned Node 24', async () => {
    const run = await runNode(['-p', 'process.versions.node']);
    expect(Number(run.stdout.split('.')[0])).toBeGreaterThanOrEqual(24);
    expect(node24).toBeTruthy();
  });
});
