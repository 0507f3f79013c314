// The packages' boundaries (scripts/check-boundaries.ts): the repository as it is has no import
// across them, and the check does catch each kind of crossing on a small tree made for it.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { findCrossings, notInLibrary } from '../../../scripts/check-boundaries.ts';
import { repoRoot, tempDir } from '../../helpers/node.ts';

const root = tempDir('boundaries');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const write = (path: string, text: string): void => {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
};

describe('package boundaries', () => {
  it('the repository: no import crosses from one part to another except by package name', () => {
    expect(findCrossings(repoRoot)).toEqual([]);
  });

  it("the library's dependency tree holds no emulator, bundler, TLS or example-only package", () => {
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    const installed = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies });
    expect(installed.filter((name) => notInLibrary.includes(name))).toEqual([]);
  });

  it('finds relative imports that leave a part, and bare imports a package does not declare', () => {
    write('package.json', JSON.stringify({ name: 'ws-outbox', dependencies: { '@middy/util': '1' }, devDependencies: { 'aws-jwt-verify': '1' } }));
    write(
      'packages/gateway/package.json',
      JSON.stringify({ name: '@ws-outbox/gateway', dependencies: { esbuild: '1' }, peerDependencies: { 'ws-outbox': '1' } }),
    );
    write('src/index.ts', "import { createError } from '@middy/util';\nimport { x } from './x.ts';\n");
    write('src/x.ts', "export const x = 1;\n// import { y } from '../handlers/y.ts'; (a comment is not an import)\n");
    write('src/bad.ts', "import { startGateway } from '../packages/gateway/src/gateway.ts';\nimport esbuild from 'esbuild';\n");
    write(
      'packages/gateway/src/gateway.ts',
      "import { withDefaults } from 'ws-outbox/util';\nimport { a } from '../../../src/options.ts';\nimport YAML from 'yaml';\nexport const startGateway = 1;\n",
    );
    write('handlers/y.ts', "import { wsHandler } from 'ws-outbox';\nimport { z } from '../src/z.ts';\nconst v = await import('aws-jwt-verify');\n");
    const found = findCrossings(root)
      .map((c) => `${c.file} ${c.specifier}`)
      .sort();
    expect(found).toEqual([
      'handlers/y.ts ../src/z.ts',
      'packages/gateway/src/gateway.ts ../../../src/options.ts',
      'packages/gateway/src/gateway.ts yaml',
      'src/bad.ts ../packages/gateway/src/gateway.ts',
      'src/bad.ts esbuild',
    ]);
  });
});
