// The Lambda Invoke API's pure parts (lambda-api.ts: FunctionName forms, AWS's error shapes), the
// Event retries (lambda-async.ts), the IAM pieces it adds (LambdaInvokePolicy, any-of checks), and
// the front (lambda-front.ts) on pools played by fakes, through the real SDK v3 client: what it
// raises for each of AWS's answers, the throttle that keeps a full pool from deadlocking.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  InvalidRequestContentException,
  InvokeCommand,
  LambdaClient,
  RequestTooLargeException,
  ResourceNotFoundException,
  TooManyRequestsException,
} from '@aws-sdk/client-lambda';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppModel } from '../../src/app-model.ts';
import type { FunctionPool, InvokeOutcome } from '../../src/function-pool.ts';
import { createIamCheck } from '../../src/iam/check.ts';
import { Identities } from '../../src/iam/identities.ts';
import { expandPolicyTemplate } from '../../src/iam/sam-policy-templates.ts';
import { InvocationLedger } from '../../src/invocations.ts';
import { errorAnswer, eventOf, functionErrorBody, invocationTypeOf, invokePathOf, parseFunctionName, resolveFunction, tooLarge } from '../../src/lambda-api.ts';
import { createAsyncInvoker } from '../../src/lambda-async.ts';
import { createLambdaFront, functionNamesOf } from '../../src/lambda-front.ts';
import { createLogger } from '../../src/log.ts';

const here = { region: 'us-east-1', accountId: '123456789012' };
const arn = (name: string) => `arn:aws:lambda:us-east-1:123456789012:function:${name}`;

describe('FunctionName forms', () => {
  it('reads a name, a partial ARN and an ARN, each with an optional qualifier', () => {
    expect(parseFunctionName('my-function')).toEqual({ name: 'my-function', region: undefined, accountId: undefined, qualifier: undefined });
    expect(parseFunctionName('my-function:$LATEST')).toMatchObject({ name: 'my-function', qualifier: '$LATEST' });
    expect(parseFunctionName('123456789012:function:my-function')).toMatchObject({ name: 'my-function', accountId: '123456789012' });
    expect(parseFunctionName(`${arn('my-function')}:prod`)).toEqual({ name: 'my-function', region: 'us-east-1', accountId: '123456789012', qualifier: 'prod' });
    expect(parseFunctionName('arn:aws-cn:lambda:cn-north-1:123456789012:function:f')).toMatchObject({ name: 'f', region: 'cn-north-1' });
  });

  it('refuses what does not match the API pattern with a ValidationException', () => {
    for (const bad of ['', 'has space', 'a/b', 'arn:aws:lambda:function:x', 'x'.repeat(171)]) {
      expect(parseFunctionName(bad)).toMatchObject({ status: 400, type: 'ValidationException' });
    }
  });

  it('finds a local function by any of its names; anything else is Function not found: <arn>', () => {
    const names = new Map([
      ['Fn', 'Fn'],
      ['my-fn', 'Fn'],
    ]);
    expect(resolveFunction('my-fn', undefined, names, here)).toEqual({ logicalId: 'Fn', name: 'my-fn' });
    expect(resolveFunction(arn('Fn'), '$LATEST', names, here)).toEqual({ logicalId: 'Fn', name: 'Fn' });
    expect(resolveFunction('Other', undefined, names, here)).toEqual({
      status: 404,
      type: 'ResourceNotFoundException',
      message: `Function not found: ${arn('Other')}`,
    });
    // Only $LATEST exists locally; another region or account is another function.
    expect(resolveFunction('Fn', 'prod', names, here)).toMatchObject({ status: 404, message: `Function not found: ${arn('Fn')}:prod` });
    expect(resolveFunction('arn:aws:lambda:eu-west-1:123456789012:function:Fn', undefined, names, here)).toMatchObject({ status: 404 });
    expect(resolveFunction('999999999999:function:Fn', undefined, names, here)).toMatchObject({ status: 404 });
    expect(resolveFunction('Fn:1', '2', names, here)).toMatchObject({ status: 400, type: 'InvalidParameterValueException' });
  });

  it('names every function by its logical id and its template FunctionName, when that resolves', () => {
    const model = {
      functions: new Map([
        ['A', { logicalId: 'A', functionName: 'A' }],
        ['B', { logicalId: 'B', functionName: 'B' }],
        ['C', { logicalId: 'C', functionName: 'C' }],
      ]),
      template: {
        Resources: {
          A: { Type: 'AWS::Serverless::Function', Properties: { FunctionName: 'literal-a' } },
          B: { Type: 'AWS::Serverless::Function', Properties: { FunctionName: { 'Fn::Sub': '${Env}-b' } } },
          C: { Type: 'AWS::Serverless::Function', Properties: { FunctionName: { 'Fn::Sub': '${AWS::StackName}-c' } } },
        },
      },
      refs: { Env: 'dev' },
    } as unknown as AppModel;
    expect([...functionNamesOf(model)]).toEqual([
      ['A', 'A'],
      ['literal-a', 'A'],
      ['B', 'B'],
      ['dev-b', 'B'],
      ['C', 'C'],
    ]);
  });
});

describe('requests and answers', () => {
  it('reads the Invoke path, URL-decoded, and its Qualifier', () => {
    expect(invokePathOf(`/2015-03-31/functions/${encodeURIComponent(arn('f'))}/invocations?Qualifier=%24LATEST`)).toEqual({
      functionName: arn('f'),
      qualifier: '$LATEST',
    });
    expect(invokePathOf('/2015-03-31/functions/f/configuration')).toBeUndefined();
    expect(invokePathOf('/2015-03-31/functions/%E0%A4%A/invocations')).toBeUndefined();
  });

  it('takes the three invocation types; the payload must be JSON (empty is {})', () => {
    expect(invocationTypeOf(undefined)).toBe('RequestResponse');
    expect(invocationTypeOf('Event')).toBe('Event');
    expect(invocationTypeOf('event')).toMatchObject({ status: 400, type: 'ValidationException' });
    expect(eventOf(Buffer.alloc(0))).toEqual({ event: {} });
    expect(eventOf(Buffer.from('[1,"a"]'))).toEqual({ event: [1, 'a'] });
    expect(eventOf(Buffer.from('{nope'))).toMatchObject({ status: 400, type: 'InvalidRequestContentException' });
    expect(tooLarge('Event')).toMatchObject({
      status: 413,
      type: 'RequestTooLargeException',
      message: 'Request must be smaller than 1048576 bytes for the InvokeAsync operation',
    });
  });

  it("answers errors in Lambda's REST-JSON shape, the type in x-amzn-ErrorType", () => {
    const { headers, body } = errorAnswer({ status: 404, type: 'ResourceNotFoundException', message: 'Function not found: x' }, 'rid');
    expect(headers).toMatchObject({ 'x-amzn-ErrorType': 'ResourceNotFoundException', 'x-amzn-RequestId': 'rid', 'content-type': 'application/json' });
    expect(JSON.parse(body)).toEqual({ Type: 'User', message: 'Function not found: x' });
    expect(JSON.parse(errorAnswer({ status: 429, type: 'TooManyRequestsException', message: 'Rate Exceeded.', reason: 'R' }, 'r').body)).toEqual({
      Type: 'User',
      message: 'Rate Exceeded.',
      Reason: 'R',
    });
  });

  it("writes a function's error as its runtime does, and a timeout as Lambda does", () => {
    const error: InvokeOutcome = {
      status: 'error',
      requestId: 'id-1',
      durationMs: 1,
      error: { errorType: 'Error', errorMessage: 'boom', trace: ['Error: boom'] },
    };
    expect(functionErrorBody(error as never, { runtime: 'nodejs22.x', timeoutSeconds: 3 })).toEqual({
      errorType: 'Error',
      errorMessage: 'boom',
      trace: ['Error: boom'],
    });
    expect(functionErrorBody(error as never, { runtime: 'python3.12', timeoutSeconds: 3 })).toEqual({
      errorMessage: 'boom',
      errorType: 'Error',
      requestId: 'id-1',
      stackTrace: ['Error: boom'],
    });
    expect(functionErrorBody({ status: 'timeout', requestId: 'id-2', durationMs: 3000 }, { runtime: 'nodejs22.x', timeoutSeconds: 3 }, new Date(0))).toEqual({
      errorMessage: '1970-01-01T00:00:00.000Z id-2 Task timed out after 3.00 seconds',
    });
  });
});

describe('IAM for Invoke', () => {
  it("expands LambdaInvokePolicy as the SAM translator does: the function's ARN and what follows it", () => {
    expect(expandPolicyTemplate('LambdaInvokePolicy', { FunctionName: 'Fn' })).toEqual([
      {
        Effect: 'Allow',
        Action: ['lambda:InvokeFunction'],
        Resource: { 'Fn::Sub': ['arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${functionName}*', { functionName: 'Fn' }] },
      },
    ]);
  });

  it('with anyOf, one allowed name of a function is enough, and an explicit Deny on any still denies', () => {
    const identities = new Identities();
    const caller = identities.issue('Caller', 'Caller', 1);
    let statements: unknown[] = [{ Effect: 'Allow', Action: ['lambda:InvokeFunction'], Resource: [arn('literal-name')] }];
    const errors: string[] = [];
    const check = createIamCheck({
      enabled: true,
      identities,
      policyOf: () => ({ statements, unknown: [] }) as never,
      accountId: here.accountId,
      ledger: new InvocationLedger(),
      log: { error: (line) => errors.push(line) },
    });
    const req = {
      headers: { authorization: `AWS4-HMAC-SHA256 Credential=${caller.accessKeyId}/20260101/us-east-1/lambda/aws4_request` },
      url: '/',
      socket: {},
    } as never;
    expect(check(req, 'lambda:InvokeFunction', [arn('Fn'), arn('literal-name')], true)).toEqual({ kind: 'allowed' });
    expect(check(req, 'lambda:InvokeFunction', [arn('Fn'), arn('literal-name')])).toMatchObject({ kind: 'denied', resource: arn('Fn') });
    statements = [...statements, { Effect: 'Deny', Action: ['lambda:*'], Resource: [arn('Fn')] }];
    expect(check(req, 'lambda:InvokeFunction', [arn('literal-name'), arn('Fn')], true)).toMatchObject({ kind: 'denied', explicit: true, resource: arn('Fn') });
  });
});

describe('Event retries', () => {
  it('runs a failing event three times in all, then gives up; a success ends it', async () => {
    const invoker = createAsyncInvoker({ delaysMs: [5, 5] });
    const failed: InvokeOutcome = { status: 'error', requestId: 'r', durationMs: 1, error: { errorType: 'Error', errorMessage: 'x' } };
    const seen: Array<[number, boolean]> = [];
    await invoker.run(
      async () => failed,
      (_, n, again) => seen.push([n, again]),
    );
    expect(seen).toEqual([
      [1, true],
      [2, true],
      [3, false],
    ]);
    const outcomes: InvokeOutcome[] = [failed, { status: 'ok', requestId: 'r', durationMs: 1, result: null }];
    seen.length = 0;
    await invoker.run(
      async () => outcomes.shift()!,
      (_, n, again) => seen.push([n, again]),
    );
    expect(seen).toEqual([
      [1, true],
      [2, false],
    ]);
  });

  it('drops a pending retry when stopped', async () => {
    const invoker = createAsyncInvoker({ delaysMs: [60_000] });
    let attempts = 0;
    const running = invoker.run(
      async () => {
        attempts++;
        return { status: 'timeout', requestId: 'r', durationMs: 1 };
      },
      () => {},
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    invoker.stop();
    await running;
    expect(attempts).toBe(1);
  });
});

describe('the front, through SDK v3', () => {
  let server: Server;
  let client: LambdaClient;
  let saturated = false;
  const events: unknown[] = [];
  const pool = {
    name: 'Target',
    get saturated() {
      return saturated;
    },
    options: { maxInstances: 1, fn: { runtime: 'nodejs22.x', timeoutSeconds: 3 } },
    invoke: async (event: unknown): Promise<InvokeOutcome> => {
      events.push(event);
      return { status: 'ok', requestId: 'r-1', durationMs: 1, result: { got: event } };
    },
  } as unknown as FunctionPool;
  const model = {
    functions: new Map([['Target', { logicalId: 'Target', functionName: 'Target' }]]),
    template: { Resources: {} },
    refs: {},
  } as unknown as AppModel;

  beforeAll(async () => {
    const front = createLambdaFront({
      ...here,
      iam: Object.assign(() => ({ kind: 'allowed' }) as const, { refuse: () => false }),
      identities: new Identities(),
      ledger: new InvocationLedger(),
      log: createLogger({ quiet: true, write: () => {} }),
      targets: () => ({ pools: new Map([['Target', pool]]), model }),
    });
    server = createServer((req, res) => void front.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new LambdaClient({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 1,
    });
  });

  afterAll(async () => {
    client.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('answers the result, with the version it ran', async () => {
    const out = await client.send(new InvokeCommand({ FunctionName: 'Target', Payload: JSON.stringify({ a: 1 }) }));
    expect(out).toMatchObject({ StatusCode: 200, ExecutedVersion: '$LATEST' });
    expect(JSON.parse(Buffer.from(out.Payload!).toString())).toEqual({ got: { a: 1 } });
  });

  it('raises the modelled exception for each error', async () => {
    await expect(client.send(new InvokeCommand({ FunctionName: 'Missing' }))).rejects.toThrow(ResourceNotFoundException);
    await expect(client.send(new InvokeCommand({ FunctionName: 'Target', Payload: Buffer.from('{not json') }))).rejects.toThrow(InvalidRequestContentException);
    await expect(
      client.send(new InvokeCommand({ FunctionName: 'Target', InvocationType: 'Event', Payload: Buffer.from(JSON.stringify('x'.repeat(1024 * 1024))) })),
    ).rejects.toThrow(RequestTooLargeException);
  });

  it('throttles a synchronous call when every instance is busy (no deadlock), and queues an Event', async () => {
    saturated = true;
    try {
      const error = await client.send(new InvokeCommand({ FunctionName: 'Target' })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TooManyRequestsException);
      expect(error).toMatchObject({ Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded', $metadata: { httpStatusCode: 429 } });
      events.length = 0;
      expect((await client.send(new InvokeCommand({ FunctionName: 'Target', InvocationType: 'Event', Payload: '{"later":true}' }))).StatusCode).toBe(202);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(events).toEqual([{ later: true }]);
    } finally {
      saturated = false;
    }
  });
});
