// Cold start, per built function: the bundle's size and the median time to import it in a fresh
// Node process (what Lambda's init phase pays for our code, excluding the runtime's own start).
// Uses build.mjs's output when the project has it; otherwise bundles handlers/*.ts with esbuild
// the way a SAM esbuild build would (ESM, node24, minified), into a temp dir.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median, round } from './lib/stats.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const defaults = { runs: 10, buildDirs: ['dist', '.aws-sam/build'] };

const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? (e.name === 'node_modules' ? [] : walk(join(dir, e.name))) : [join(dir, e.name)]);

const bundlesIn = (dir: string) => walk(dir).filter((f) => /\.(mjs|js|cjs)$/.test(f) && !f.endsWith('.map'));

const findBundles = (): { source: string; files: string[] } => {
  if (existsSync(join(root, 'build.mjs'))) {
    const built = spawnSync(process.execPath, ['build.mjs'], { cwd: root, encoding: 'utf8' });
    if (built.status !== 0) return { source: `build.mjs failed: ${built.stderr.slice(-300)}`, files: [] };
    for (const d of defaults.buildDirs) {
      if (existsSync(join(root, d))) {
        const files = bundlesIn(join(root, d)).filter((f) => !f.includes('/node_modules/'));
        if (files.length) return { source: `build.mjs -> ${d}/`, files };
      }
    }
  }
  const handlersDir = join(root, 'handlers');
  const entries = existsSync(handlersDir) ? readdirSync(handlersDir).filter((f) => f.endsWith('.ts')).map((f) => join(handlersDir, f)) : [];
  if (!entries.length) return { source: 'no handlers to bundle', files: [] };
  const out = mkdtempSync(join(tmpdir(), 'ws-outbox-cold-'));
  execFileSync(join(root, 'node_modules/.bin/esbuild'), [...entries, '--bundle', '--platform=node', '--format=esm', '--target=node24', '--minify',
    `--outdir=${out}`, '--out-extension:.js=.mjs',
    // ESM bundles of CJS deps need a require(); SAM's esbuild builds add the same banner.
    "--banner:js=import{createRequire}from'node:module';const require=createRequire(import.meta.url);"], { cwd: root, stdio: 'pipe' });
  return { source: 'esbuild handlers/*.ts (fallback: no build.mjs output)', files: bundlesIn(out) };
};

const importOnce = (file: string): number => {
  const script = `const t=performance.now();await import(${JSON.stringify(pathToFileURL(file).href)});process.stdout.write(String(performance.now()-t));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, TABLE_NAME: 'bench', CONNECTIONS_TABLE: 'bench', AWS_REGION: 'us-east-1' },
  });
  if (run.status !== 0) throw new Error(run.stderr.slice(-300));
  return Number(run.stdout);
};

export const measureColdStart = async (options: Partial<typeof defaults> = {}) => {
  const { runs } = { ...defaults, ...options };
  const { source, files } = findBundles();
  const functions = files.map((file) => {
    const name = relative(root, file).startsWith('..') ? file.split('/').pop()! : relative(root, file);
    try {
      const times = Array.from({ length: runs }, () => importOnce(file));
      return { function: name, bytes: statSync(file).size, importMsMedian: round(median(times), 1), importMsMin: round(Math.min(...times), 1), runs };
    } catch (error) {
      return { function: name, bytes: statSync(file).size, error: String(error).slice(0, 300) };
    }
  });
  return { source, node: process.version, functions };
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(JSON.stringify(await measureColdStart(), null, 2) + '\n');
}
