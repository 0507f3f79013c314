// How a function's code is made (function-code.ts) and which Node runs it (node-versions.ts):
// SAM's esbuild options with sam build's defaults, the build kind each Metadata gives, and the
// Node lookup with its one warning.
import { afterAll, describe, expect, test } from '@jest/globals';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codeKindOf, prepareFunctionCode, samEsbuildOptions } from '../../src/function-code.ts';
import { missingNodeWarning, nodeForRuntime } from '../../src/node-versions.ts';
import type { FunctionSpec } from '../../src/template.ts';

const dir = mkdtempSync(join(tmpdir(), 'ws-outbox-code-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const spec = (metadata: Record<string, unknown>, ownBuild = false): FunctionSpec => ({
  logicalId: 'Fn',
  codeUri: 'src/',
  inlineCode: undefined,
  handler: 'app.handler',
  handlerModule: 'app',
  handlerExport: 'handler',
  entry: join(dir, 'app.ts'),
  entryCandidates: [],
  entryExists: false,
  entryFromMetadata: false,
  entryFrom: 'CodeUri',
  splitting: false,
  runtime: 'nodejs24.x',
  architectures: ['x86_64'],
  timeout: 3,
  memorySize: 128,
  environment: {},
  policies: [],
  role: undefined,
  routes: [],
  sqsEvents: [],
  metadata,
  ownBuild,
});

describe('how the code is made', () => {
  test("the kind follows the Metadata; this project's own layout wins", () => {
    expect(codeKindOf(spec({}))).toBe('as-is');
    expect(codeKindOf(spec({ BuildMethod: 'esbuild' }))).toBe('esbuild');
    expect(codeKindOf(spec({ BuildMethod: 'makefile' }))).toBe('makefile');
    expect(codeKindOf(spec({ BuildMethod: 'makefile' }, true))).toBe('ws-outbox');
    expect(codeKindOf({ ...spec({}), inlineCode: 'exports.handler = async () => 1' })).toBe('inline');
  });

  test('InlineCode is written as CloudFormation deploys it: index.js at its own task root; a Handler outside index is an error', async () => {
    const template = (handler: string) =>
      [
        'Transform: AWS::Serverless-2016-10-31',
        'Resources:',
        '  Inline:',
        '    Type: AWS::Serverless::Function',
        `    Properties: { Runtime: nodejs24.x, Handler: ${handler}, InlineCode: 'exports.handler = async () => 42' }`,
      ].join('\n');
    writeFileSync(join(dir, 'inline.yaml'), template('index.handler'));
    const [built] = await prepareFunctionCode({ template: join(dir, 'inline.yaml'), outdir: join(dir, 'out') });
    expect(built!.outfile).toBe(join(dir, 'out', 'Inline', 'index.js'));
    expect(readFileSync(built!.outfile, 'utf8')).toBe('exports.handler = async () => 42');
    // An empty package.json: no "type" of a folder above decides how Node reads index.js.
    expect(readFileSync(join(dir, 'out', 'Inline', 'package.json'), 'utf8').trim()).toBe('{}');
    writeFileSync(join(dir, 'inline.yaml'), template('app.handler'));
    await expect(prepareFunctionCode({ template: join(dir, 'inline.yaml'), outdir: join(dir, 'out') })).rejects.toThrow(
      /InlineCode is deployed as index\.js, so its Handler must be index\.<name>, got app\.handler/,
    );
  });

  test("SAM's esbuild options: sam build's defaults, and each BuildProperty as esbuild takes it", () => {
    writeFileSync(join(dir, 'app.ts'), 'export const handler = 1;');
    expect(samEsbuildOptions(spec({ BuildMethod: 'esbuild' }), dir)).toMatchObject({
      entryPoints: [join(dir, 'app.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'es2020',
      minify: true,
      sourcemap: false,
      external: [],
    });
    expect(
      samEsbuildOptions(
        spec({
          BuildMethod: 'esbuild',
          BuildProperties: {
            Format: 'esm',
            Target: 'node22',
            Minify: false,
            Sourcemap: true,
            External: ['@aws-sdk/*'],
            EntryPoints: ['app.ts'],
            Loader: ['.html=text'],
            MainFields: 'module,main',
            OutExtension: ['.js=.mjs'],
            Banner: ['js=// banner'],
          },
        }),
        dir,
      ),
    ).toMatchObject({
      format: 'esm',
      target: 'node22',
      minify: false,
      sourcemap: true,
      external: ['@aws-sdk/*'],
      loader: { '.html': 'text' },
      mainFields: ['module', 'main'],
      outExtension: { '.js': '.mjs' },
      banner: { js: '// banner' },
    });
  });
});

describe('which Node runs a function', () => {
  test("the gateway's own major is itself; another is looked for (WS_OUTBOX_NODE_<major> first), else the gateway's with one warning", () => {
    const own = Number(process.versions.node.split('.')[0]);
    expect(nodeForRuntime(`nodejs${own}.x`)).toEqual({ execPath: process.execPath, major: own, matches: true });
    // A stand-in binary that answers --version as a Node 18 would.
    const fake = join(dir, 'node18');
    writeFileSync(fake, '#!/bin/sh\necho v18.20.4\n');
    chmodSync(fake, 0o755);
    process.env.WS_OUTBOX_NODE_18 = fake;
    try {
      expect(nodeForRuntime('nodejs18.x', [dir])).toEqual({ execPath: fake, major: 18, matches: true });
    } finally {
      delete process.env.WS_OUTBOX_NODE_18;
    }
    const path = process.env.PATH;
    process.env.PATH = dir;
    try {
      expect(nodeForRuntime('nodejs16.x', [dir])).toEqual({ execPath: process.execPath, major: own, matches: false });
    } finally {
      process.env.PATH = path;
    }
    expect(missingNodeWarning('nodejs16.x', own)).toBe(
      `nodejs16.x: no Node 16 found, so its functions run on Node ${own}. ` +
        'Install one to run them as Lambda does: npm i -D node16@npm:node@16 (or set WS_OUTBOX_NODE_16 to a node binary).',
    );
  });
});
