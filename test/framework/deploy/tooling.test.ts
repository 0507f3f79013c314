// The repository's own tooling: a plain `npx jest` runs the ESM tests (jest.config.js supplies the
// --experimental-vm-modules that `npm test` sets), and no file points readers at design notes
// that are not in the repository.
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { node24, repoRoot } from '../../helpers/node.ts';

describe('tooling', () => {
  it('runs the tests with a plain `npx jest`, without NODE_OPTIONS', () => {
    const { NODE_OPTIONS: _jest, ...env } = process.env;
    const run = spawnSync('npx', ['jest', 'test/framework/unit/options.test.ts', '--ci'], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...env, PATH: `${dirname(node24)}:${process.env.PATH ?? ''}` },
    });
    expect({ status: run.status, stderr: run.status === 0 ? '' : run.stderr }).toEqual({ status: 0, stderr: '' });
    expect(run.stderr).toMatch(/Tests: +\d+ passed, \d+ total/);
  }, 120_000);

  it('has no file that cites design notes the repository does not ship', () => {
    const skip = new Set(['node_modules', '.git', 'lib', 'dist', '.venv', 'test-artifacts', '.aws-sam', 'results', '.jest-cache']);
    const notes = [
      ['DESIGN', 'md'],
      ['AWS-' + 'FACTS', 'md'],
    ].map((parts) => parts.join('.'));
    const cited: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (skip.has(entry.name)) continue;
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (/\.(ts|mts|mjs|js|json|md|yaml|yml|sh|py|html|css|toml)$|^run$/.test(entry.name)) {
          const text = readFileSync(path, 'utf8');
          for (const note of notes) if (text.includes(note)) cited.push(`${relative(repoRoot, path)}: ${note}`);
        }
      }
    };
    walk(repoRoot);
    expect(cited).toEqual([]);
  });
});
