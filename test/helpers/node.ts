// Shared by the deploy tests: where the repo is, which Node runs the bundles, and a child-process
// runner. Bundles always run in a separate Node 24 process, as on Lambda, never inside jest's VM.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const templatePath = join(repoRoot, 'template.yaml');

/** The project's pinned Node 24 (the `node` dev dependency); plain `node` on PATH may be older. */
export const node24 = existsSync(join(repoRoot, 'node_modules/.bin/node')) ? join(repoRoot, 'node_modules/.bin/node') : process.execPath;

/** A fresh folder under the OS temp dir, so concurrent runs never share build output. */
export const tempDir = (prefix: string): string => mkdtempSync(join(tmpdir(), `ws-outbox-${prefix}-`));

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs node24 with args; resolves with the exit code and output (never rejects on a non-zero exit). */
export const runNode = (args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> =>
  new Promise((resolvePromise, reject) => {
    const child = spawn(node24, args, { cwd: options.cwd ?? repoRoot, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
