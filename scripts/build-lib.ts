// npm run build:lib: the package's lib/ folder, from scratch. tsc (TypeScript 7) compiles src/ and
// middleware/ to ESM JavaScript and .d.ts (tsconfig.lib.json); the demo page's static files are
// copied beside the compiled gateway, and the bin is made executable. `npm pack` runs this first
// (prepack), so a tarball never ships a stale or partial lib/.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lib = join(root, 'lib');

rmSync(lib, { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.lib.json')], { cwd: root, stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error(`build:lib: tsc failed (exit ${tsc.status ?? tsc.signal})`);
  process.exit(1);
}
cpSync(join(root, 'src/local/demo'), join(lib, 'src/local/demo'), { recursive: true });
const bin = join(lib, 'src/local/cli.js');
if (!existsSync(bin)) {
  console.error(`build:lib: ${bin} was not emitted`);
  process.exit(1);
}
chmodSync(bin, 0o755);
// stderr: `npm pack --json` prints its JSON on stdout after this.
console.error('build:lib: lib/ written (ESM JavaScript, .d.ts, demo page)');
