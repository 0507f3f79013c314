// `sam build` (the pinned SAM CLI in .venv, from `npm run validate`) on a fresh copy of the
// repository: every function's Metadata: BuildMethod: makefile runs the Makefile, which runs our
// bundler into SAM's artifacts folder. Each function gets its bundle, the built template points
// at it, and a bundle runs: ConnectFunction with events/connect.json writes its row to DynamoDB.
// So `sam build && sam deploy` ships exactly what `npm run build` and the local gateway build.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoDbPolicyTemplates, expandPolicyTemplate, sqsPolicyTemplates } from '../../packages/gateway/src/iam/sam-policy-templates.ts';
import { functionsOf, loadTemplate } from '../../packages/gateway/src/template.ts';
import { connectionKey } from '../../src/store/keys.ts';
import { startDynalite, type DynaliteHandle } from '../helpers/dynalite.ts';
import { repoRoot, runNode, templatePath, tempDir } from '../helpers/node.ts';
import { describeWhen } from '../helpers/skip.ts';

const sam = join(repoRoot, '.venv/bin/sam');
const functions = functionsOf(loadTemplate(templatePath));
const withSam = describeWhen(
  existsSync(sam) || Boolean(process.env.CI),
  'test/app/sam-build.test.ts',
  'no SAM CLI in .venv: run `npm run validate` once to install SAM CLI 1.170.0 there (CI does, and never skips these)',
);

withSam('sam build on a fresh copy of the repository', () => {
  const copy = tempDir('sam-build');
  let output = '';
  let status: number | null = null;
  let dynalite: DynaliteHandle;

  beforeAll(async () => {
    // What a clone has: the files git tracks (and new ones it would), no build output; node_modules
    // as `npm ci` makes it (linked, to save the copy).
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: repoRoot, encoding: 'utf8' })
      .split('\0')
      .filter((f) => f && existsSync(join(repoRoot, f)));
    for (const file of files) {
      mkdirSync(dirname(join(copy, file)), { recursive: true });
      cpSync(join(repoRoot, file), join(copy, file));
    }
    symlinkSync(join(repoRoot, 'node_modules'), join(copy, 'node_modules'));
    const run = spawnSync(sam, ['build'], {
      cwd: copy,
      encoding: 'utf8',
      timeout: 240_000,
      env: { ...process.env, SAM_CLI_TELEMETRY: '0', SAM_CLI_DISABLE_VERSION_CHECK: '1', AWS_DEFAULT_REGION: 'us-east-1', NODE_OPTIONS: '' },
    });
    status = run.status;
    output = `${run.stdout}${run.stderr}`;
    dynalite = await startDynalite('Table');
  }, 300_000);

  afterAll(async () => {
    await dynalite?.stop();
  });

  it('succeeds, running our bundler once per function', () => {
    expect({ status, tail: status === 0 ? '' : output.slice(-3000) }).toEqual({ status: 0, tail: '' });
    expect(output).toContain('Build Succeeded');
    for (const fn of functions) expect(output).toContain(`${fn.logicalId}: Running CustomMakeBuilder:MakeBuild`);
  });

  it('leaves a bundle and its source map for every function, and a built template pointing at them', () => {
    const built = readFileSync(join(copy, '.aws-sam/build/template.yaml'), 'utf8');
    for (const fn of functions) {
      const bundle = join(copy, '.aws-sam/build', fn.logicalId, `${fn.handlerModule}.mjs`);
      expect(existsSync(bundle)).toBe(true);
      expect(existsSync(`${bundle}.map`)).toBe(true);
      expect(readFileSync(bundle, 'utf8')).toContain('//# sourceMappingURL=index.mjs.map');
      expect(built).toMatch(new RegExp(`CodeUri: ${fn.logicalId}\\b`));
    }
    // dist/ (npm run build's output) is not involved.
    expect(existsSync(join(copy, 'dist'))).toBe(false);
  });

  it('a built bundle runs: ConnectFunction with events/connect.json writes the connection', async () => {
    const bundle = join(copy, '.aws-sam/build/ConnectFunction/index.mjs');
    const resultPath = join(copy, 'connect-result.json');
    const run = await runNode(
      [join(repoRoot, 'test/helpers/invoke-bundle.mjs'), bundle, join(repoRoot, 'events/connect.json'), resultPath, '10', 'ConnectFunction'],
      {
        env: {
          PATH: process.env.PATH ?? '',
          AWS_REGION: 'us-east-1',
          TABLE_NAME: 'Table',
          AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
          AWS_ACCESS_KEY_ID: 'x',
          AWS_SECRET_ACCESS_KEY: 'y',
          NODE_OPTIONS: '--enable-source-maps',
        },
      },
    );
    expect(run.stderr).toBe('');
    expect(JSON.parse(readFileSync(resultPath, 'utf8'))).toMatchObject({ result: { statusCode: 200 } });
    const connectionId = JSON.parse(readFileSync(join(repoRoot, 'events/connect.json'), 'utf8')).requestContext.connectionId;
    const row = await dynalite.documentClient.send(new GetCommand({ TableName: 'Table', Key: connectionKey(connectionId) }));
    expect(row.Item).toBeDefined();
  }, 30_000);
});

// The local IAM check expands SAM's DynamoDB and SQS policy templates itself (packages/gateway/src/iam); they
// must grant what the translator's own definitions grant.
const translatorTemplates = () => {
  const lib = join(repoRoot, '.venv/lib');
  const python = readdirSync(lib).find((d) => d.startsWith('python'))!;
  return JSON.parse(readFileSync(join(lib, python, 'site-packages/samtranslator/policy_templates_data/policy_templates.json'), 'utf8')).Templates;
};

withSam('the SAM policy templates the local IAM check knows', () => {
  it("grant the actions of the SAM translator's policy_templates.json, on the table and its indexes", () => {
    const templates = translatorTemplates();
    for (const [name, actions] of Object.entries(dynamoDbPolicyTemplates)) {
      const [statement] = templates[name].Definition.Statement;
      expect({ name, actions: [...actions].sort() }).toEqual({ name, actions: [...statement.Action].sort() });
      expect(JSON.stringify(statement.Resource)).toContain('table/${tableName}/index/*');
    }
  });

  it("grant the actions of the translator's SQS templates, on the queue they name", () => {
    const templates = translatorTemplates();
    for (const name of Object.keys(sqsPolicyTemplates)) {
      const [statement] = templates[name].Definition.Statement;
      const [ours] = expandPolicyTemplate(name, { QueueName: 'q' }) as { Action: string[]; Resource: { 'Fn::Sub': [string, unknown] } }[];
      expect({ name, actions: [...ours!.Action].sort() }).toEqual({ name, actions: [...statement.Action].sort() });
      expect({ name, resource: ours!.Resource['Fn::Sub'][0] }).toEqual({ name, resource: statement.Resource['Fn::Sub'][0] });
    }
  });
});
