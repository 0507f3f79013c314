// Lambda's Invoke API under the local gateway (test/fixtures/lambda-invoke): functions invoke
// other functions of the template by name or ARN with SDK v3's InvokeCommand and boto3, over
// Lambda's AWS host name (TLS to the gateway), checked against their template policies; real `ws`
// clients, the real SDKs, the real embedded DynamoDB.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient, ResourceNotFoundException } from '@aws-sdk/client-lambda';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import type { InvocationReport } from '../../src/websocket-api.ts';
import { pythonMissing } from './python-support.ts';
import { TestClient, capturedLog, eventually } from './support.ts';

const { lines, logger } = capturedLog();
const fixture = 'packages/gateway/test/fixtures/lambda-invoke';
const arn = (name: string) => `arn:aws:lambda:us-east-1:123456789012:function:${name}`;

describe('Lambda Invoke API', () => {
  let gateway: Gateway;
  let client: TestClient;
  const reports: InvocationReport[] = [];
  let nextId = 0;

  beforeAll(async () => {
    gateway = await startGateway({ template: `${fixture}/template.yaml`, port: 0, dynamodbPort: 0, limits: false, logger });
    gateway.events.on('invocation', (r: InvocationReport) => reports.push(r));
    client = await TestClient.open(gateway.wsUrl);
  }, 60_000);

  afterAll(async () => {
    client?.ws.terminate();
    await gateway?.stop();
  });

  /** Sends a message to a caller function and waits for what it posts back. */
  const call = async (message: Record<string, unknown>, on: TestClient = client): Promise<any> => {
    const id = ++nextId;
    on.send({ ...message, id });
    const [reply] = await on.waitFor((d) => d?.id === id, { timeoutMs: 30_000 });
    return reply;
  };

  test("RequestResponse: the caller gets the target's result (by name, template FunctionName or ARN) and posts it back", async () => {
    expect(await call({ target: 'AnswerFunction', payload: { n: 21 } })).toEqual({
      id: expect.any(Number),
      status: 200,
      executedVersion: '$LATEST',
      payload: { doubled: 42, functionName: 'AnswerFunction' },
    });
    expect((await call({ target: 'answer-function', payload: { n: 1 } })).payload).toEqual({ doubled: 2, functionName: 'AnswerFunction' });
    expect((await call({ target: arn('AnswerFunction'), payload: { n: 2 } })).payload).toMatchObject({ doubled: 4 });
    expect((await call({ target: '123456789012:function:AnswerFunction:$LATEST', payload: { n: 3 } })).payload).toMatchObject({ doubled: 6 });
    // In the ledger and the reports like any invocation, with what started it.
    await eventually(() => reports.some((r) => r.route === 'Invoke RequestResponse from CallerFunction' && r.functionName === 'AnswerFunction'), 'the report');
    expect(lines.join('')).toMatch(/Invoke RequestResponse from CallerFunction → AnswerFunction → OK/);
  }, 60_000);

  test('Event: 202 at once, the target runs later and writes its row', async () => {
    expect(await call({ target: 'WriterFunction', type: 'Event', payload: { pk: 'row-1', text: 'async' } })).toMatchObject({ status: 202, payload: null });
    const db = new DynamoDBClient({ endpoint: gateway.dynamodbEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    try {
      await eventually(async () => {
        const item = (await db.send(new GetItemCommand({ TableName: 'invoke_rows', Key: { pk: { S: 'row-1' } } }))).Item;
        return item?.text?.S === 'async';
      }, 'the row the Event invocation writes');
    } finally {
      db.destroy();
    }
  }, 60_000);

  test("a function error is 200 with FunctionError Unhandled and the runtime's error body; a timeout too", async () => {
    const failed = await call({ target: 'FailingFunction', payload: { why: 'on purpose' } });
    expect(failed).toMatchObject({ status: 200, functionError: 'Unhandled', payload: { errorType: 'TypeError', errorMessage: 'boom: on purpose' } });
    expect(failed.payload.trace[0]).toBe('TypeError: boom: on purpose');
    const slow = await call({ target: 'SlowFunction' });
    expect(slow).toMatchObject({ status: 200, functionError: 'Unhandled' });
    expect(slow.payload.errorMessage).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z [0-9a-f-]{36} Task timed out after 1\.00 seconds$/);
  }, 60_000);

  test('a caller whose policies do not allow lambda:InvokeFunction gets AccessDeniedException, and the denial is logged', async () => {
    const denied = await call({ action: 'unprivileged', target: 'AnswerFunction', payload: { n: 1 } });
    expect(denied).toEqual({
      id: expect.any(Number),
      error: 'AccessDeniedException',
      httpStatus: 403,
      message: `User: arn:aws:sts::123456789012:assumed-role/UnprivilegedFunctionRole/UnprivilegedFunction is not authorized to perform: lambda:InvokeFunction on resource: ${arn('AnswerFunction')} because no identity-based policy allows the lambda:InvokeFunction action`,
    });
    expect(lines.join('')).toMatch(
      /IAM: UnprivilegedFunction \(route unprivileged\) may not lambda:InvokeFunction on arn:aws:lambda:us-east-1:123456789012:function:AnswerFunction/,
    );
  }, 60_000);

  test('an unknown function is ResourceNotFoundException, named by its ARN', async () => {
    expect(await call({ target: 'NoSuchFunction' })).toEqual({
      id: expect.any(Number),
      error: 'ResourceNotFoundException',
      httpStatus: 404,
      message: `Function not found: ${arn('NoSuchFunction')}`,
    });
  }, 60_000);

  test('outside callers (any SigV4 keys) on the plain port; unsigned requests are refused', async () => {
    const lambda = new LambdaClient({ endpoint: gateway.lambdaEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    try {
      const out = await lambda.send(new InvokeCommand({ FunctionName: 'AnswerFunction', Payload: JSON.stringify({ n: 5 }) }));
      expect(JSON.parse(Buffer.from(out.Payload!).toString())).toEqual({ doubled: 10, functionName: 'AnswerFunction' });
      await expect(lambda.send(new InvokeCommand({ FunctionName: 'Nope' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
      const dry = await lambda.send(new InvokeCommand({ FunctionName: 'AnswerFunction', InvocationType: 'DryRun' }));
      expect(dry.StatusCode).toBe(204);
    } finally {
      lambda.destroy();
    }
    const unsigned = await fetch(`${gateway.lambdaEndpoint}/2015-03-31/functions/AnswerFunction/invocations`, { method: 'POST', body: '{}' });
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
  }, 60_000);

  test('a function that invokes itself while its only instance is busy is throttled (429 TooManyRequestsException), not deadlocked', async () => {
    const single = await startGateway({ template: `${fixture}/template.yaml`, port: 0, dynamodbPort: 0, limits: false, logger, maxInstances: 1 });
    const alone = await TestClient.open(single.wsUrl);
    try {
      // Queued, the call would wait for the instance that makes it until its 20 s Timeout.
      const started = Date.now();
      expect(await call({ target: 'CallerFunction' }, alone)).toMatchObject({ error: 'TooManyRequestsException', httpStatus: 429 });
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(lines.join('')).toMatch(/Invoke RequestResponse from CallerFunction → CallerFunction: all 1 instances are busy: throttled \(429\)/);
    } finally {
      alone.ws.terminate();
      await single.stop();
    }
  }, 60_000);

  const python = pythonMissing() === undefined ? test : test.skip;
  python(
    'boto3: invoke answers, and its modelled exceptions are raised',
    async () => {
      expect(await call({ action: 'py', target: 'answer-function', payload: { n: 8 } })).toEqual({
        id: expect.any(Number),
        status: 200,
        functionError: null,
        payload: { doubled: 16, functionName: 'AnswerFunction' },
      });
      expect(await call({ action: 'py', target: 'FailingFunction', payload: { why: 'py' } })).toMatchObject({
        functionError: 'Unhandled',
        payload: { errorType: 'TypeError' },
      });
      expect(await call({ action: 'py', target: 'Missing' })).toMatchObject({ error: 'ResourceNotFoundException', errorClass: 'ResourceNotFoundException' });
      expect(await call({ action: 'py', target: 'WriterFunction', type: 'Event', payload: { pk: 'py', text: 'x' } })).toMatchObject({ status: 202 });
    },
    90_000,
  );
});
