// npm run validate must catch what matters, not just exit 0: these feed it broken copies of
// template.yaml and expect it to fail for the right reason. Needs the pinned SAM CLI in .venv,
// which `npm run validate` installs (CI runs it before the tests); without it these are skipped on
// a developer's machine, but never under CI=true, where a missing SAM CLI must fail.
import { expect, it } from '@jest/globals';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, templatePath, tempDir } from '../helpers/node.ts';
import { describeWhen } from '../helpers/skip.ts';

const haveSam = existsSync(join(repoRoot, '.venv/bin/sam')) && existsSync(join(repoRoot, '.venv/bin/cfn-lint'));
const original = readFileSync(templatePath, 'utf8');

const validate = (edit: (text: string) => string) => {
  const broken = edit(original);
  expect(broken).not.toBe(original); // the edit applied
  const path = join(tempDir('validate'), 'template.yaml');
  writeFileSync(path, broken);
  const run = spawnSync('bash', [join(repoRoot, 'scripts/validate.sh'), path], { encoding: 'utf8', timeout: 120_000 });
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
};

describeWhen(
  haveSam || Boolean(process.env.CI),
  'test/app/validate.test.ts',
  'no SAM CLI in .venv: run `npm run validate` once to install SAM CLI 1.170.0 there (CI does, and never skips these)',
)('npm run validate (SAM CLI 1.170.0 in .venv)', () => {
  it('fails on a policy that points at a resource that does not exist (only the translated template shows it)', () => {
    const { code, output } = validate((t) => t.replace('Resource: !GetAtt Table.Arn', 'Resource: !GetAtt Tabel.Arn'));
    expect(code).not.toBe(0);
    expect(output).toMatch(/E1010 'Tabel' is not one of/);
  }, 120_000);

  it('fails on a route key the SAM translator refuses', () => {
    // The route under Routes (RouteSettings has a `send:` key too).
    const { code, output } = validate((t) => t.replace(/^ {8}send:\n( {10}FunctionArn)/m, '        send-it:\n$1'));
    expect(code).not.toBe(0);
    expect(output).toMatch(/Route key 'send-it' must be alphanumeric/);
  }, 120_000);
});
