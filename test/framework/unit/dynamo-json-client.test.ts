// The store's lean DynamoDB client (src/store/dynamodb/json-client.ts) against a loopback server
// that answers as DynamoDB does: errors named as the SDK names them, the SDK's retry rules
// (throttling, 5xx, timeouts; never a conditional failure; never after an abort), the endpoint
// and credentials it picks from the environment.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { environmentCredentials } from '../../../src/management/credentials.ts';
import { DynamoDBServiceError, DynamoJsonClient, dynamoEndpoint } from '../../../src/store/dynamodb/json-client.ts';

type Answer = { status: number; body?: unknown; hang?: boolean };
let answers: Answer[] = [];
const seen: { target?: string; body: unknown; authorization?: string; contentType?: string }[] = [];
let server: http.Server;
let endpoint: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req
      .on('data', (c: Buffer) => chunks.push(c))
      .on('end', () => {
        seen.push({
          target: req.headers['x-amz-target'] as string,
          body: JSON.parse(Buffer.concat(chunks).toString()),
          authorization: req.headers.authorization,
          contentType: req.headers['content-type'],
        });
        const answer = answers.shift() ?? { status: 200, body: {} };
        if (answer.hang) return; // never answers: the client's timeout must end it
        const text = JSON.stringify(answer.body ?? {});
        res
          .writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(text), 'x-amzn-requestid': 'req-1' })
          .end(text);
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const credentials = { accessKeyId: 'AKID', secretAccessKey: 'secret', sessionToken: 'token' };
const client = (over: ConstructorParameters<typeof DynamoJsonClient>[0] = {}) => new DynamoJsonClient({ endpoint, region: 'eu-west-1', credentials, ...over });
const reset = (next: Answer[]) => {
  answers = next;
  seen.length = 0;
};

describe('DynamoJsonClient', () => {
  it('posts the operation signed, as DynamoDB JSON, and returns the answer', async () => {
    reset([{ status: 200, body: { Item: { sk: { S: 'c1' } } } }]);
    const c = client();
    const out = await c.call('GetItem', { TableName: 't', Key: { sk: { S: 'c1' } } });
    expect(out).toEqual({ Item: { sk: { S: 'c1' } } });
    expect(seen[0]).toMatchObject({
      target: 'DynamoDB_20120810.GetItem',
      contentType: 'application/x-amz-json-1.0',
      body: { TableName: 't', Key: { sk: { S: 'c1' } } },
    });
    expect(seen[0]!.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKID\/\d{8}\/eu-west-1\/dynamodb\/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-amz-target, Signature=[0-9a-f]{64}$/,
    );
    c.destroy();
  });

  it('names errors as the SDK does, and does not retry a conditional failure', async () => {
    reset([{ status: 400, body: { __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException', message: 'The conditional request failed' } }]);
    const c = client();
    const error = (await c.call('UpdateItem', {}).catch((e: unknown) => e)) as DynamoDBServiceError;
    expect(error).toBeInstanceOf(DynamoDBServiceError);
    expect(error).toMatchObject({
      name: 'ConditionalCheckFailedException',
      message: 'The conditional request failed',
      $fault: 'client',
      $metadata: { httpStatusCode: 400, requestId: 'req-1', attempts: 1 },
    });
    expect(seen).toHaveLength(1);
    c.destroy();
  });

  it('retries throttling and 5xx up to maxAttempts, then throws the last error', async () => {
    reset([
      { status: 400, body: { __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException', message: 'slow' } },
      { status: 500, body: { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'oops' } },
      { status: 200, body: { Count: 0, Items: [] } },
    ]);
    const c = client();
    expect(await c.call('Query', {})).toEqual({ Count: 0, Items: [] });
    expect(seen).toHaveLength(3);
    reset([500, 503, 500, 200].map((status) => ({ status, body: { __type: 'ServiceUnavailable', message: `${status}` } })));
    await expect(c.call('Query', {})).rejects.toMatchObject({ name: 'ServiceUnavailable', $fault: 'server', $metadata: { attempts: 3 } });
    expect(seen).toHaveLength(3);
    c.destroy();
  });

  it('a hung request times out and is retried; an abort ends the call at once, retries and backoff included', async () => {
    reset([
      { status: 200, hang: true },
      { status: 200, body: { ok: true } },
    ]);
    const c = client({ requestTimeoutMs: 200 });
    expect(await c.call('GetItem', {})).toEqual({ ok: true });
    expect(seen).toHaveLength(2);

    reset([
      { status: 200, hang: true },
      { status: 200, hang: true },
      { status: 200, hang: true },
    ]);
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('deadline')), 100);
    await expect(c.call('Query', {}, controller.signal)).rejects.toThrow('deadline');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(seen).toHaveLength(1);
    c.destroy();
  });
});

describe("the lean client's defaults", () => {
  it("takes the endpoint the SDK would: the service variable, the global one, else the region's (FIPS and dual-stack too)", () => {
    expect(dynamoEndpoint({ AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8000', AWS_ENDPOINT_URL: 'http://other' })).toBe('http://127.0.0.1:8000');
    expect(dynamoEndpoint({ AWS_ENDPOINT_URL: 'http://other:1' })).toBe('http://other:1');
    expect(dynamoEndpoint({ AWS_REGION: 'eu-west-1' })).toBe('https://dynamodb.eu-west-1.amazonaws.com');
    expect(dynamoEndpoint({ AWS_REGION: 'cn-north-1' })).toBe('https://dynamodb.cn-north-1.amazonaws.com.cn');
    expect(dynamoEndpoint({ AWS_REGION: 'us-east-1', AWS_USE_FIPS_ENDPOINT: 'true' })).toBe('https://dynamodb-fips.us-east-1.amazonaws.com');
    expect(dynamoEndpoint({ AWS_REGION: 'us-east-1', AWS_USE_DUALSTACK_ENDPOINT: 'true' })).toBe('https://dynamodb.us-east-1.api.aws');
  });

  it("reads Lambda's credentials from the environment, and leaves AWS_PROFILE to the SDK's chain", () => {
    expect(environmentCredentials({ AWS_ACCESS_KEY_ID: 'A', AWS_SECRET_ACCESS_KEY: 'S', AWS_SESSION_TOKEN: 'T' })).toEqual({
      accessKeyId: 'A',
      secretAccessKey: 'S',
      sessionToken: 'T',
    });
    expect(environmentCredentials({ AWS_ACCESS_KEY_ID: 'A', AWS_SECRET_ACCESS_KEY: 'S', AWS_CREDENTIAL_EXPIRATION: '2030-01-01T00:00:00Z' })).toEqual({
      accessKeyId: 'A',
      secretAccessKey: 'S',
      expiration: new Date('2030-01-01T00:00:00Z'),
    });
    expect(environmentCredentials({ AWS_ACCESS_KEY_ID: 'A' })).toBeUndefined();
    expect(environmentCredentials({ AWS_ACCESS_KEY_ID: 'A', AWS_SECRET_ACCESS_KEY: 'S', AWS_PROFILE: 'dev' })).toBeUndefined();
  });
});
