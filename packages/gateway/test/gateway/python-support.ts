// Whether this machine can run the Python runtime's tests: python3 with boto3 (Lambda's python
// runtimes ship it). Without them the suites skip with the reason printed, except in CI, which
// has both: there a missing Python fails loudly.
import { execFileSync } from 'node:child_process';

const probe = (): string | undefined => {
  try {
    execFileSync('python3', ['-c', 'import boto3'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
    return undefined;
  } catch (error) {
    const e = error as { code?: string; stderr?: Buffer };
    return e.code === 'ENOENT'
      ? 'python3 is not on PATH'
      : `python3 cannot import boto3 (${String(e.stderr ?? '')
          .trim()
          .split('\n')
          .at(-1)})`;
  }
};

/** Why the Python suites cannot run here; undefined when they can. Throws in CI instead. */
export const pythonMissing = (): string | undefined => {
  const why = probe();
  if (why !== undefined && process.env.CI) throw new Error(`the Python runtime's tests need python3 with boto3 in CI: ${why}`);
  if (why !== undefined) console.warn(`Skipping the Python runtime's tests: ${why}.`);
  return why;
};
