// npm run build:lib: a package's lib/ folder, from scratch. tsc (TypeScript 7) compiles its
// TypeScript to ESM JavaScript and .d.ts (its tsconfig.lib.json); `npm pack` runs this first
// (prepack), so a tarball never ships a stale or partial lib/.
//
//   node scripts/build-lib.ts            the library, ws-outbox (src/ and middleware/ -> lib/)
//   node scripts/build-lib.ts gateway    the local gateway, @ws-outbox/gateway (packages/gateway/src -> lib/,
//                                        and its Python bootstrap copied there);
//                                        it compiles against the library's lib/, so that is built first
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');

const compile = (dir: string, expected: string): void => {
  const lib = join(dir, 'lib');
  rmSync(lib, { recursive: true, force: true });
  const run = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.lib.json')], { cwd: dir, stdio: 'inherit' });
  if (run.status !== 0) {
    console.error(`build:lib: tsc failed in ${dir} (exit ${run.status ?? run.signal})`);
    process.exit(1);
  }
  if (!existsSync(join(lib, expected))) {
    console.error(`build:lib: ${join(lib, expected)} was not emitted`);
    process.exit(1);
  }
  // stderr: `npm pack --json` prints its JSON on stdout after this.
  console.error(`build:lib: ${lib} written (ESM JavaScript and .d.ts)`);
};

const which = process.argv[2] ?? 'library';
if (which !== 'library' && which !== 'gateway') {
  console.error(`build:lib: unknown package ${JSON.stringify(which)} (library or gateway)`);
  process.exit(2);
}
compile(root, 'src/index.js');
if (which === 'gateway') {
  const gateway = join(root, 'packages/gateway');
  compile(gateway, 'cli.js');
  // The Python runtime's bootstrap is not TypeScript: copied beside the compiled files, where the
  // compiled worker-launch.js looks for it (./python/bootstrap.py), as the sources have it.
  cpSync(join(gateway, 'src/python/bootstrap.py'), join(gateway, 'lib/python/bootstrap.py'));
}
