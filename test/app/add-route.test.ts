// docs/add-route.md, done to a copy of this repository exactly as written there: its blocks marked
// `file=…` (```ts file=handlers/whoami.ts, ```yaml file=template.yaml insert=Routes, …) are written
// or inserted where the page says, then the copy's typecheck and tests run. The framework's tests
// must not notice the new route, and the app's own tests (the new one included) must pass.
//
// The copy holds what the tests need (sources, tests, template, config), with node_modules linked,
// not copied. Its tests run in one child jest; this file, the SAM validation and `sam build` (slow,
// and covered on the real template by test/app/validate.test.ts and sam-build.test.ts) are left
// out of that run.
import { describe, expect, it } from '@jest/globals';
import { cpSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runnableBlocks, type DocBlock } from '../helpers/doc-blocks.ts';
import { repoRoot, runNode, tempDir } from '../helpers/node.ts';

const page = 'docs/add-route.md';

/** Inserts a block into the template: a route right after `Routes:`, a resource right before `Outputs:`. */
const insert = (template: string, block: DocBlock): string => {
  const place = block.attrs.insert;
  const anchor = place === 'Routes' ? /^ {6}Routes:\n/m : /^Outputs:\n/m;
  const match = anchor.exec(template);
  expect({ place, found: match !== null }).toEqual({ place, found: true });
  const at = place === 'Routes' ? match!.index + match![0].length : match!.index;
  return `${template.slice(0, at)}${place === 'Routes' ? block.code : `${block.code}\n`}${template.slice(at)}`;
};

const copyRepository = (): string => {
  const copy = join(tempDir('add-route'), 'repo');
  for (const path of [
    'src',
    'middleware',
    'handlers',
    'packages/gateway/src',
    'packages/gateway/test',
    'packages/gateway/package.json',
    'test',
    'events',
    'scripts',
    'bench',
    'demo',
    'template.yaml',
    'env.json',
    'build.mjs',
    'build.d.mts',
    'package.json',
    'jest.config.js',
    'tsconfig.json',
  ]) {
    cpSync(join(repoRoot, path), join(copy, path), { recursive: true });
  }
  symlinkSync(join(repoRoot, 'node_modules'), join(copy, 'node_modules'), 'dir');
  return copy;
};

describe(`${page}, on a copy of the repository`, () => {
  it("keeps the typecheck and the framework and app tests green, the new route's test included", async () => {
    const blocks = runnableBlocks(page);
    expect(blocks.map((b) => `${b.attrs.file}${b.attrs.insert ? ` ${b.attrs.insert}` : ''}`)).toEqual([
      'handlers/whoami.ts',
      'template.yaml Routes',
      'template.yaml Resources',
      'test/app/whoami.test.ts',
    ]);
    const copy = copyRepository();
    let template = readFileSync(join(copy, 'template.yaml'), 'utf8');
    for (const block of blocks) {
      if (block.attrs.file === 'template.yaml') template = insert(template, block);
      else writeFileSync(join(copy, block.attrs.file!), block.code);
    }
    writeFileSync(join(copy, 'template.yaml'), template);

    const { NODE_OPTIONS: _jest, ...env } = process.env;
    const typecheck = await runNode([join(repoRoot, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', copy], { cwd: copy, env, timeoutMs: 60_000 });
    expect({ code: typecheck.code, out: typecheck.stdout }).toEqual({ code: 0, out: '' });

    const jest = await runNode(
      [
        join(repoRoot, 'node_modules/jest/bin/jest.js'),
        'test/framework',
        'test/app',
        '--ci',
        '--maxWorkers=2',
        '--testPathIgnorePatterns',
        '/node_modules/',
        '/test/app/e2e/',
        '/test/app/add-route\\.test\\.ts$',
        '/test/app/validate\\.test\\.ts$',
        '/test/app/sam-build\\.test\\.ts$',
        '--cacheDirectory',
        join(copy, '.jest-cache'),
      ],
      {
        cwd: copy,
        env: { ...env, NODE_OPTIONS: '--experimental-vm-modules', PATH: `${join(repoRoot, 'node_modules/.bin')}:${process.env.PATH ?? ''}` },
        timeoutMs: 900_000,
      },
    );
    const summary = /^Tests: .*$/m.exec(jest.stderr)?.[0];
    expect({ code: jest.code, summary, failures: jest.code === 0 ? '' : jest.stderr.slice(-6000) }).toEqual({
      code: 0,
      summary: expect.stringMatching(/^Tests: +\d+ passed, \d+ total$/),
      failures: '',
    });
    // The new route's own test ran, and the template rules saw the new function.
    expect(jest.stderr).toMatch(/PASS test\/app\/whoami\.test\.ts/);
    expect(jest.stderr).toMatch(/PASS test\/app\/template\.test\.ts/);
    expect(jest.stderr).toMatch(/PASS test\/framework\/deploy\/template-rules\.test\.ts/);
  }, 900_000);
});
