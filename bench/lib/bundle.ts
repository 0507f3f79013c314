// Bundles a bench entry point the way the functions are shipped (esbuild, ESM, node24), so that
// measured processes run plain JavaScript: Node's TypeScript stripping loads a WASM compiler that
// adds ~40 MB of RSS, which a deployed bundle never pays and which would swamp the memory figures.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const bundle = async (entry: string): Promise<string> => {
  const outfile = join(mkdtempSync(join(tmpdir(), 'ws-outbox-bench-')), entry.replace(/\.ts$/, '.mjs'));
  await build({
    entryPoints: [fileURLToPath(new URL(`../${entry}`, import.meta.url))],
    outfile, bundle: true, platform: 'node', format: 'esm', target: 'node24',
    // Unminified: profiles of the bundle keep readable names.
    banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
    logLevel: 'error',
  });
  return outfile;
};
