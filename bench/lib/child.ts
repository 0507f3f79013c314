// Runs a bench script in a fresh Node process and returns the JSON it prints last, or how it died.
import { spawn } from 'node:child_process';

export interface ChildOutcome<T> {
  ok: boolean;
  result?: T;
  /** True when V8 ran out of heap ("JavaScript heap out of memory"). */
  oom: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderrTail: string;
}

export const runChild = <T>(script: string, args: string[], options: { nodeFlags?: string[]; env?: NodeJS.ProcessEnv; timeoutMs?: number; onSpawn?: (pid: number) => void } = {}): Promise<ChildOutcome<T>> =>
  new Promise((resolve) => {
    const path = script.startsWith('/') ? script : new URL(`../${script}`, import.meta.url).pathname;
    // The bench's own export conditions (ws-outbox-source: the library's TypeScript sources), so a
    // TypeScript child resolves 'ws-outbox/…' as the bench does rather than to an unbuilt lib/.
    const conditions = process.execArgv.filter((arg) => arg.startsWith('--conditions') || arg === '-C');
    const child = spawn(process.execPath, [...conditions, ...(options.nodeFlags ?? []), path, ...args], {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4000); });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
      let result: T | undefined;
      try { result = last ? JSON.parse(last) as T : undefined; } catch { /* partial output */ }
      const oom = /heap out of memory|Allocation failed/i.test(stderr);
      resolve({ ok: code === 0 && result !== undefined, ...(result === undefined ? {} : { result }), oom, code, signal, stderrTail: stderr.slice(-600) });
    });
  });
