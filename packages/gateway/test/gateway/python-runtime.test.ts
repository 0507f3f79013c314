// Lambda's python3.x runtimes under the local gateway (test/fixtures/python-chat): boto3 handlers
// from CodeUri as they are, reaching DynamoDB and @connections by their AWS host names over TLS
// with verification on; Lambda's errors for an import that fails and a handler that raises; a
// call to an AWS host the gateway does not serve refused and reported; and the freeze between
// invocations (a thread of the function stops counting while the instance is idle).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import type { EgressRefusal } from '../../src/services/lambda.ts';
import type { InvocationReport } from '../../src/websocket-api.ts';
import { readProcess } from './process-tree.ts';
import { pythonMissing } from './python-support.ts';
import { TestClient, capturedLog, eventually, sleep } from './support.ts';

const { lines, logger } = capturedLog();
const fixture = 'packages/gateway/test/fixtures/python-chat';
const suite = pythonMissing() === undefined ? describe : describe.skip;

suite('python3.x functions', () => {
  let gateway: Gateway;
  const reports: InvocationReport[] = [];
  const refusals: EgressRefusal[] = [];
  const clients: TestClient[] = [];

  beforeAll(async () => {
    gateway = await startGateway({ template: `${fixture}/template.yaml`, port: 0, dynamodbPort: 0, logger });
    gateway.events.on('invocation', (r: InvocationReport) => reports.push(r));
    gateway.events.on('egress-refused', (r: EgressRefusal) => refusals.push(r));
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await gateway?.stop();
  });

  const open = async () => {
    const client = await TestClient.open(gateway.wsUrl);
    clients.push(client);
    return client;
  };

  test('$connect stores each connection with boto3 (DynamoDB over TLS, verified); a broadcast reaches every client', async () => {
    const [a, b, c] = [await open(), await open(), await open()];
    a!.send({ action: 'broadcast', text: 'hello from python' });
    for (const client of [a, b, c]) await client!.waitFor((d) => d?.text === 'hello from python');
    await eventually(() => reports.some((r) => r.route === 'broadcast'), 'the broadcast invocation returned');
    expect(reports.filter((r) => r.route === '$connect').map((r) => r.statusCode)).toEqual([200, 200, 200]);
    expect(reports.find((r) => r.route === 'broadcast')).toMatchObject({ functionName: 'BroadcastFunction', status: 'ok', statusCode: 200 });
    // The root logger's handler, as Lambda's runtime installs it: level, time, request id, message.
    expect(lines.join('')).toMatch(/\[BroadcastFunction#1\] \[INFO\]\t\d{4}-\d\d-\d\dT[\d:.]+Z\t[0-9a-f-]{36}\tbroadcast to 3 connections/);
  });

  test("the context is Lambda's; the gateway's own variables are gone; the task root is the working folder and first on sys.path", async () => {
    const client = await open();
    client.send({ action: 'info' });
    const [info] = await client.waitFor((d) => d?.context !== undefined);
    const root = `${process.cwd()}/${fixture}/chat`;
    expect(info.context).toEqual({
      aws_request_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      function_name: 'InfoFunction',
      function_version: '$LATEST',
      invoked_function_arn: 'arn:aws:lambda:us-east-1:000000000000:function:InfoFunction',
      memory_limit_in_mb: '256',
      log_group_name: '/aws/lambda/InfoFunction',
      remaining: expect.any(Number),
      identity: [null, null],
      client_context: null,
    });
    expect(info.context.remaining).toBeGreaterThan(0);
    expect(info.context.remaining).toBeLessThanOrEqual(20_000);
    expect(info.env).toEqual({
      AWS_EXECUTION_ENV: 'AWS_Lambda_python3.11',
      LAMBDA_TASK_ROOT: root,
      _HANDLER: 'info.handler',
      WS_OUTBOX_EGRESS: null,
      WS_OUTBOX_CA_FILE: null,
      NODE_CHANNEL_FD: null,
      NODE_EXTRA_CA_CERTS: null,
      NODE_PATH: null,
      AWS_SAM_LOCAL: 'true',
    });
    expect(info.keyId).toBe('ASIA');
    expect([info.cwd, info.path0]).toEqual([root, root]);
    expect(lines.join('')).toContain('[InfoFunction#1] info for ');
  });

  test('a handler that raises: the client gets "Internal server error", the log has the [ERROR] line and the traceback', async () => {
    const client = await open();
    client.send({ action: 'raise', why: 'on purpose' });
    await client.waitFor((d) => d?.message === 'Internal server error');
    await eventually(() => lines.join('').includes('ValueError: boom from python: on purpose'), 'the error is logged');
    const text = lines.join('');
    expect(text).toContain('[RaiseFunction#1] [ERROR] ValueError: boom from python: on purpose\n[RaiseFunction#1] Traceback (most recent call last):');
    expect(text).toMatch(/\[RaiseFunction#1\] {3}File "\S+\/python-chat\/chat\/info\.py", line \d+, in explode/);
    expect(text).not.toContain('bootstrap.py');
    expect(reports.find((r) => r.route === 'raise')).toMatchObject({ functionName: 'RaiseFunction', status: 'error' });
  });

  test("a module that fails to import: Runtime.ImportModuleError with Lambda's message and the requirements.txt hint", async () => {
    const client = await open();
    client.send({ action: 'broken' });
    await client.waitFor((d) => d?.message === 'Internal server error');
    await eventually(() => reports.some((r) => r.route === 'broken'), 'the broken invocation returned');
    const text = lines.join('');
    expect(text).toContain("BrokenFunction: Runtime.ImportModuleError: Unable to import module 'app': No module named 'requests_not_installed_here'");
    expect(text).toMatch(/pip install -r \S+\/python-chat\/broken\/requirements\.txt/);
  });

  test('a syntax error and a missing handler: Runtime.UserCodeSyntaxError and Runtime.HandlerNotFound, as Lambda words them', async () => {
    const client = await open();
    client.send({ action: 'syntax' });
    client.send({ action: 'missing' });
    await client.waitFor((d) => d?.message === 'Internal server error', { count: 2 });
    await eventually(() => reports.some((r) => r.route === 'syntax') && reports.some((r) => r.route === 'missing'), 'both invocations returned');
    const text = lines.join('');
    expect(text).toMatch(/SyntaxFunction: Runtime\.UserCodeSyntaxError: Syntax error in module 'syntax': .*\(syntax\.py, line 1\)/);
    expect(text).toContain("MissingHandlerFunction: Runtime.HandlerNotFound: Handler 'no_such_handler' missing on module 'info'");
  });

  test('past its Timeout the instance is killed: "Task timed out", and the client gets "Endpoint request timed out"', async () => {
    const client = await open();
    client.send({ action: 'sleep' });
    await client.waitFor((d) => d?.message === 'Endpoint request timed out');
    expect(lines.join('')).toMatch(/SleepFunction: \S+ Task timed out after 1\.00 seconds/);
    await eventually(() => reports.some((r) => r.route === 'sleep'), 'the sleep invocation returned');
    expect(reports.find((r) => r.route === 'sleep')).toMatchObject({ status: 'timeout' });
  });

  test('a call to an AWS host the gateway does not serve is refused (ECONNREFUSED) and reported', async () => {
    const client = await open();
    client.send({ action: 's3' });
    const [answer] = await client.waitFor((d) => d?.s3 !== undefined, { timeoutMs: 30_000 });
    expect(answer.s3).toMatchObject({ error: 'EndpointConnectionError' });
    expect(refusals[0]).toMatchObject({ functionName: 'S3Function', host: expect.stringMatching(/^s3\.(us-east-1\.)?amazonaws\.com$/), port: 443 });
    expect(refusals[0]!.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines.join('')).toMatch(/REFUSED: S3Function \(route s3\) tried to reach s3\.\S*amazonaws\.com:443/);
  }, 60_000);

  test('the instance is frozen between invocations: its thread makes no progress while the instance is idle', async () => {
    const client = await open();
    const counter = async () => {
      const before = client.matching((d) => d?.ticks !== undefined).length;
      const settled = new Promise<void>((resolve) => {
        const listener = (r: InvocationReport) => {
          if (r.route === 'counter') {
            gateway.events.off('invocation', listener);
            resolve();
          }
        };
        gateway.events.on('invocation', listener);
      });
      client.send({ action: 'counter' });
      const all = await client.waitFor((d) => d?.ticks !== undefined, { count: before + 1 });
      await settled;
      return all.at(-1) as { ticks: number; longestPauseMs: number; pid: number };
    };
    const first = await counter();
    await sleep(1500);
    expect(readProcess(first.pid)?.state).toBe('T');
    const second = await counter();
    expect(second.pid).toBe(first.pid);
    // The thread ticks every 10 ms when it runs: its longest pause since the first invocation
    // read it spans the idle time, during which it was stopped with the instance.
    expect(second.longestPauseMs).toBeGreaterThanOrEqual(1400);
  });
});
