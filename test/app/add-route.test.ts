// README.md's "Add a route", done to a copy of this repository exactly as written there: the code
// blocks labelled with a path (```ts handlers/whoami.ts, ```yaml template.yaml Routes, …) are
// written or inserted where the README says, then the copy's typecheck and tests run. The framework's
// tests must not notice the new route, and the app's own tests (the new one included) must pass.
//
// The copy holds what the tests need (sources, tests, template, config), with node_modules linked,
// not copied. Its tests run in one child jest; this file, the SAM validation and `sam build` (slow,
// and covered on the real template by test/app/validate.test.ts and sam-build.test.ts) are left
// out of that run.
import { describe, expect, it } from '@jest/globals';
import { cpSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, runNode, tempDir } from '../helpers/node.ts';

interface Block { lang: string; target: string; place?: string; code: string }

/** The labelled code blocks of the README section that starts with `heading`. */
const readmeBlocks = (heading: string): Block[] => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n## ${heading}\n`);
  expect(start).toBeGreaterThan(-1);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/```(\w+) ([^\s`]+)(?: (\w+))?\n([\s\S]*?)```/g)]
    .map(([, lang, target, place, code]) => ({ lang: lang!, target: target!, place, code: code! }));
};

/** Inserts `code` into the template: a route right after `Routes:`, a resource right before `Outputs:`. */
const insert = (template: string, block: Block): string => {
  const anchor = block.place === 'Routes' ? /^ {6}Routes:\n/m : /^Outputs:\n/m;
  const match = anchor.exec(template);
  expect({ place: block.place, found: match !== null }).toEqual({ place: block.place, found: true });
  const at = block.place === 'Routes' ? match!.index + match![0].length : match!.index;
  return `${template.slice(0, at)}${block.place === 'Routes' ? block.code : `${block.code}\n`}${template.slice(at)}`;
};

const copyRepository = (): string => {
  const copy = join(tempDir('add-route'), 'repo');
  for (const path of ['src', 'middleware', 'handlers', 'test', 'events', 'scripts', 'template.yaml', 'env.json', 'build.mjs', 'build.d.mts',
    'package.json', 'jest.config.js', 'tsconfig.json']) {
    cpSync(join(repoRoot, path), join(copy, path), { recursive: true });
  }
  symlinkSync(join(repoRoot, 'node_modules'), join(copy, 'node_modules'), 'dir');
  return copy;
};

describe('README "Add a route", on a copy of the repository', () => {
  it('keeps the typecheck and the framework and app tests green, the new route\'s test included', async () => {
    const blocks = readmeBlocks('Add a route');
    expect(blocks.map((b) => `${b.target}${b.place ? ` ${b.place}` : ''}`)).toEqual([
      'handlers/whoami.ts', 'template.yaml Routes', 'template.yaml Resources', 'test/app/whoami.test.ts',
    ]);
    const copy = copyRepository();
    let template = readFileSync(join(copy, 'template.yaml'), 'utf8');
    for (const block of blocks) {
      if (block.target === 'template.yaml') template = insert(template, block);
      else writeFileSync(join(copy, block.target), block.code);
    }
    writeFileSync(join(copy, 'template.yaml'), template);

    const { NODE_OPTIONS: _jest, ...env } = process.env;
    const typecheck = await runNode([join(repoRoot, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', copy], { cwd: copy, env, timeoutMs: 60_000 });
    expect({ code: typecheck.code, out: typecheck.stdout }).toEqual({ code: 0, out: '' });

    const jest = await runNode([join(repoRoot, 'node_modules/jest/bin/jest.js'), 'test/framework', 'test/app', '--ci', '--maxWorkers=2',
      '--testPathIgnorePatterns', '/node_modules/', '/test/app/e2e/', '/test/app/add-route\\.test\\.ts$', '/test/app/validate\\.test\\.ts$',
      '/test/app/sam-build\\.test\\.ts$',
      '--cacheDirectory', join(copy, '.jest-cache')], {
      cwd: copy, env: { ...env, NODE_OPTIONS: '--experimental-vm-modules', PATH: `${join(repoRoot, 'node_modules/.bin')}:${process.env.PATH ?? ''}` }, timeoutMs: 900_000,
    });
    const summary = /^Tests: .*$/m.exec(jest.stderr)?.[0];
    expect({ code: jest.code, summary, failures: jest.code === 0 ? '' : jest.stderr.slice(-6000) }).toEqual({ code: 0, summary: expect.stringMatching(/^Tests: +\d+ passed, \d+ total$/), failures: '' });
    // The new route's own test ran, and the template rules saw the new function.
    expect(jest.stderr).toMatch(/PASS test\/app\/whoami\.test\.ts/);
    expect(jest.stderr).toMatch(/PASS test\/app\/template\.test\.ts/);
    expect(jest.stderr).toMatch(/PASS test\/framework\/deploy\/template-rules\.test\.ts/);
  }, 900_000);
});
