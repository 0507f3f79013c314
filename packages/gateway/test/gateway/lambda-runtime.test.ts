// Apps written as real SAM apps are (test/fixtures/apps/, one per way they used to fail), run
// through the gateway with real `ws` clients: code loaded as Lambda's Node runtime loads it, the
// runtime's SDK, callbacks by Runtime, each Runtime's Node, memory, and the template features
// outside the gateway's model (skipped with a line, or emulated) never stopping it.
import { afterAll, afterEach, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DescribeTableCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { startGateway, type Gateway, type GatewayOptions } from '../../src/gateway.ts';
import { createLogger } from '../../src/log.ts';
import { nodeForRuntime } from '../../src/node-versions.ts';
import type { InvocationReport } from '../../src/websocket-api.ts';
import { TestClient, eventually } from './support.ts';

const quiet = process.env.GATEWAY_LOG === undefined;
const apps = resolve('test/fixtures/apps');
const temps: string[] = [];
let gateway: Gateway | undefined;
const clients: TestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await gateway?.stop();
  gateway = undefined;
});

afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/**
 * Starts the gateway on a fixture app; `outside` runs a copy in a temp folder, where no
 * node_modules above it holds anything (as a checkout of a public app).
 */
const start = async (app: string, { outside, ...options }: Partial<GatewayOptions> & { outside?: boolean } = {}) => {
  let folder = join(apps, app);
  if (outside) {
    const dir = mkdtempSync(join(tmpdir(), 'ws-outbox-app-'));
    temps.push(dir);
    cpSync(folder, join(dir, app), { recursive: true });
    folder = join(dir, app);
  }
  const lines: string[] = [];
  const logger = createLogger({
    write: (text) => {
      lines.push(text);
      if (!quiet) process.stderr.write(text);
    },
  });
  const reports: InvocationReport[] = [];
  gateway = await startGateway({ template: join(folder, 'template.yaml'), port: 0, dynamodbPort: 0, limits: false, logger, ...options });
  gateway.events.on('invocation', (r: InvocationReport) => reports.push(r));
  const open = async (path = '', headers?: Record<string, string>) => {
    const client = await TestClient.open(`${gateway!.wsUrl}${path}`, { headers });
    clients.push(client);
    return client;
  };
  return { gateway, lines, log: () => lines.join(''), reports, open };
};

describe('loading as Lambda does', () => {
  test("ESM and CommonJS code import the runtime's SDK v3 with no node_modules of their own; a client the gateway lacks is named in one line", async () => {
    const app = await start('runtime-sdk', { outside: true, iam: false });
    const client = await app.open();
    client.send({ action: 'esm' });
    await client.waitFor((d) => d?.from === 'esm');
    client.send({ action: 'cjs' });
    await client.waitFor((d) => d?.from === 'cjs');
    client.send({ action: 'kinesis' });
    await client.waitFor((d) => d?.message === 'Internal server error');
    expect(app.log()).toMatch(/Runtime\.ImportModuleError: Error: Cannot find package '@aws-sdk\/client-kinesis'/);
    expect(app.log()).toContain(
      'nodejs24.x provides @aws-sdk/client-kinesis on Lambda, but the local gateway has no copy of it: install it in your project (npm i -D @aws-sdk/client-kinesis).',
    );
  }, 60_000);

  test('CommonJS that marks itself __esModule (compiled TypeScript) keeps its exports', async () => {
    const app = await start('esmodule-interop');
    await app.open();
    await eventually(() => app.reports.some((r) => r.route === '$connect'), '$connect ran');
    expect(app.reports.find((r) => r.route === '$connect')).toMatchObject({ status: 'ok', statusCode: 200 });
  }, 60_000);

  test("callbacks: called on nodejs22.x and nodejs20.x (context.succeed too); Lambda's own error on nodejs24.x", async () => {
    const app = await start('callbacks');
    const client = await app.open();
    expect(app.reports.find((r) => r.route === '$connect')).toMatchObject({ functionName: 'OldConnectFunction', status: 'ok', statusCode: 200 });
    client.send({ action: 'legacy' });
    await eventually(() => app.reports.some((r) => r.route === 'legacy'), 'the legacy route ran');
    expect(app.reports.find((r) => r.route === 'legacy')).toMatchObject({ status: 'ok', statusCode: 201 });
    // callbackWaitsForEmptyEventLoop (true): the work left after the callback runs before the answer.
    client.send({ action: 'lingering' });
    await eventually(() => app.reports.some((r) => r.route === 'lingering'), 'the lingering route ran');
    expect(app.reports.find((r) => r.route === 'lingering')).toMatchObject({ status: 'ok', statusCode: 202 });
    expect(app.log()).toContain('work after the callback finished');
    client.send({ action: 'modern' });
    await client.waitFor((d) => d?.message === 'Internal server error');
    expect(app.log()).toContain(
      'Runtime.CallbackHandlerDeprecated: ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24.',
    );
  }, 60_000);

  test('a nodejs20.x function runs on Node 20 when one is installed, and the gateway says so once when none is', async () => {
    const found = nodeForRuntime('nodejs20.x', [join(apps, 'node-major')]);
    const app = await start('node-major', { iam: false });
    const client = await app.open();
    client.send({ anything: true });
    const [answer] = await client.waitFor((d) => d?.node !== undefined);
    if (found.matches) {
      expect(answer.node).toMatch(/^v20\./);
      expect(app.log()).not.toMatch(/no Node 20 found/);
    } else {
      expect(answer.node).toBe(process.version);
      expect(app.log().match(/nodejs20\.x: no Node 20 found/g)).toHaveLength(1);
    }
  }, 60_000);

  test('a late send from a nodejs20.x function is seen (stamped with its invocation on Node 20 too)', async () => {
    const app = await start('node-major', { iam: false });
    const client = await app.open();
    // The un-awaited post runs a little each time the instance thaws, until it goes out: late.
    for (let i = 0; i < 30 && app.gateway.lateSends.length === 0; i++) {
      client.send({ action: 'late' });
      await eventually(() => app.reports.filter((r) => r.route === 'late').length > i, 'the late route returned');
    }
    await eventually(() => app.gateway.lateSends.length > 0, 'a LATE SEND is reported');
    expect(app.gateway.lateSends[0]).toMatchObject({ functionName: 'LateFunction', route: 'late', method: 'POST' });
  }, 60_000);

  test('an instance that goes over its MemorySize during init says so: out of memory, and the limit', async () => {
    const app = await start('init-oom');
    await expect(app.open()).rejects.toMatchObject({ status: 500 });
    expect(app.log()).toMatch(/out of memory: the instance went over its MemorySize of 128 MB during init/);
  }, 60_000);

  test('a makefile build runs make build-<LogicalId> with ARTIFACTS_DIR, and the function runs what it wrote', async () => {
    const app = await start('makefile-build');
    await app.open();
    await eventually(() => app.reports.some((r) => r.route === '$connect'), '$connect ran');
    expect(app.reports.find((r) => r.route === '$connect')).toMatchObject({ functionName: 'MadeFunction', status: 'ok', statusCode: 200 });
  }, 60_000);

  test('every failed build is listed', async () => {
    await expect(start('broken-builds')).rejects.toThrow(
      /2 builds failed:[\s\S]*FirstFunction[\s\S]*not-there-first[\s\S]*SecondFunction[\s\S]*not-there-second/,
    );
  }, 60_000);
});

describe('template features outside the model never stop the gateway', () => {
  test("an Image function and an HTTP API: one line each; the Image function's route fails as a failed integration does", async () => {
    const app = await start('image-function');
    expect(app.log()).toContain('RenderFunction is a container image function (PackageType: Image), which the local gateway does not run');
    expect(app.log()).toContain('HttpApi (AWS::Serverless::HttpApi) is not served');
    expect(app.log()).toMatch(/ListFunction\.Events\.List \(HttpApi GET \/items\) does not invoke ListFunction locally/);
    const client = await app.open();
    client.send({ action: 'render' });
    await client.waitFor((d) => d?.message === 'Internal server error');
    expect(app.log()).toMatch(/route render: RenderFunction does not run locally/);
  }, 60_000);

  test("$default integrated with SQS: the request template's SendMessage reaches the queue, whose mapping invokes the function", async () => {
    const app = await start('sqs-integration');
    const client = await app.open('/test');
    client.send({ note: { text: 'queued hello' } });
    // Two hops and a cold start under the function's CPU share (the SDK's client loads in it): on
    // a loaded 2-core CI machine that took longer than the default 15 s once.
    const [answer] = await client
      .waitFor((d) => d?.queued !== undefined, { timeoutMs: 45_000 })
      .catch((error: Error) => {
        // What the gateway said is the only clue to a failure here: it goes with the error.
        throw new Error(`${error.message}\n--- the gateway's log ---\n${app.log()}`);
      });
    expect(answer).toEqual({ queued: { text: 'queued hello' } });
    // The batch's invocation has its line in the gateway's output, as a route's has.
    await eventually(() => /SQS +\S+ 1 record\(s\) → OK/.test(app.log()), 'the batch line');
    // The role's managed policy ARN (a Fn::Join) is read as one, not as an unknown SAM policy template.
    expect(app.log()).not.toMatch(/not known locally/);
  }, 60_000);

  test('a Lambda custom integration gets what its request template makes', async () => {
    const app = await start('request-template', { iam: false });
    const client = await app.open('/test');
    // No apostrophe: Velocity's escapeJavaScript turns ' into \', which is not JSON (on AWS too).
    client.send({ action: 'tell', text: 'a "quoted" word' });
    const [answer] = await client.waitFor((d) => d?.got !== undefined);
    await eventually(() => app.reports.some((r) => r.route === 'tell'), 'the tell invocation returned');
    const connectionId = app.reports.find((r) => r.route === 'tell')?.connectionId;
    expect(answer.got).toEqual({ who: connectionId, said: 'a "quoted" word', raw: JSON.stringify({ action: 'tell', text: 'a "quoted" word' }), stage: 'test' });
    expect(app.log()).toContain('route tell → TellFunction is a Lambda custom integration (TellIntegration)');
  }, 60_000);

  test("intrinsics in a table's definition are resolved (capacities from parameters, a Sub name)", async () => {
    const app = await start('intrinsic-table', { parameters: { ReadUnits: '4' } });
    const db = new DynamoDBClient({ endpoint: app.gateway.dynamodbEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    try {
      const { Table } = await db.send(new DescribeTableCommand({ TableName: 'ws-outbox-local-notes' }));
      expect(Table?.ProvisionedThroughput).toMatchObject({ ReadCapacityUnits: 4, WriteCapacityUnits: 2 });
    } finally {
      db.destroy();
    }
  }, 60_000);

  test("ws-outbox dev --parameter-overrides takes SAM's separate words (A=1 B=2)", async () => {
    const { NODE_OPTIONS: _jestOnly, ...env } = process.env;
    const dev = spawn(
      process.execPath,
      [
        '--conditions=ws-outbox-source',
        'packages/gateway/src/cli.ts',
        'dev',
        '--template',
        join(apps, 'intrinsic-table', 'template.yaml'),
        '--parameter-overrides',
        'ReadUnits=6',
        'WriteUnits=7',
        'Suffix=words',
        '--no-limits',
        '--no-watch',
      ],
      {
        env: { ...env, PORT: '0', DYNAMODB_PORT: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = once(dev, 'exit');
    let out = '';
    dev.stdout!.on('data', (d: Buffer) => (out += d));
    dev.stderr!.on('data', (d: Buffer) => (out += d));
    try {
      await eventually(() => /ready in/.test(out) || dev.exitCode !== null, 'the gateway is ready', 30_000);
      const endpoint = /DynamoDB\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      expect({ endpoint, out }).toMatchObject({ endpoint: expect.stringMatching(/^http/) });
      const db = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
      try {
        const { Table } = await db.send(new DescribeTableCommand({ TableName: 'ws-outbox-local-words' }));
        expect(Table?.ProvisionedThroughput).toMatchObject({ ReadCapacityUnits: 6, WriteCapacityUnits: 7 });
      } finally {
        db.destroy();
      }
    } finally {
      dev.kill('SIGTERM');
      await exited;
    }
  }, 60_000);

  test('AWS::Serverless::SimpleTable is created, and its !Ref is the table name', async () => {
    const app = await start('simple-table');
    const client = await app.open();
    const db = new DynamoDBClient({ endpoint: app.gateway.dynamodbEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    try {
      const { Items } = await db.send(new ScanCommand({ TableName: 'Visitors' }));
      expect(Items?.map((i) => i.connectionId?.S)).toEqual([app.reports.find((r) => r.route === '$connect')?.connectionId]);
    } finally {
      db.destroy();
    }
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  }, 60_000);

  test('a management endpoint ending in "/" works, as API Gateway collapses /stage//@connections', async () => {
    const app = await start('slash-endpoint', { iam: false });
    const client = await app.open('/live');
    client.send({ action: 'ping' });
    await client.waitFor((d) => d === 'pong');
    await eventually(() => app.reports.some((r) => r.route === 'ping'), 'the ping invocation returned');
    expect(app.reports.find((r) => r.route === 'ping')).toMatchObject({ status: 'ok', statusCode: 200 });
  }, 60_000);
});
