// Bundles a bench entry point the way the functions are shipped (esbuild, ESM, node24), so that
// measured processes run plain JavaScript: Node's TypeScript stripping loads a WASM compiler that
// adds ~40 MB of RSS, which a deployed bundle never pays and which would swamp the memory figures.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

// The bundles live as long as the bench that runs them: their folders go when it exits.
const folders: string[] = [];
process.once('exit', () => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

/** `root`: another checkout's bench/ (its own sources and node_modules), for same-run comparisons. */
export const bundle = async (entry: string, root?: string): Promise<string> => {
  const folder = mkdtempSync(join(tmpdir(), 'ws-outbox-bench-'));
  folders.push(folder);
  const outfile = join(folder, entry.replace(/\.ts$/, '.mjs'));
  await build({
    entryPoints: [root === undefined ? fileURLToPath(new URL(`../${entry}`, import.meta.url)) : join(root, 'bench', entry)],
    ...(root === undefined ? {} : { absWorkingDir: root }),
    conditions: ['module', 'ws-outbox-source'],
    outfile, bundle: true, platform: 'node', format: 'esm', target: 'node24',
    // Unminified: profiles of the bundle keep readable names.
    banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
    logLevel: 'error',
  });
  return outfile;
};
