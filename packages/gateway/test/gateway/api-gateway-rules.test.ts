// API Gateway's WebSocket rules as the local gateway enforces them, with the fixture functions in
// test/fixtures/mechanics-template.yaml: $connect decides the upgrade, route selection with
// $default as fallback, event shapes, 1009 for oversize frames and messages, idle and maximum
// connection durations, and what a client sees when its function fails or times out.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import type { InvocationReport } from '../../src/websocket-api.ts';
import { TestClient, eventually, expectedNoise, recordedEvent, signedConnectionsFetch } from './support.ts';

const template = 'test/fixtures/mechanics-template.yaml';
const outdir = mkdtempSync(join(tmpdir(), 'gw-rules-'));
// Its $connect rejections, timeouts and crashes are on purpose: the gateway's lines for them are labelled.
const noise = () => expectedNoise('api-gateway-rules.test.ts makes $connect throw and time out, and a function crash, on purpose');
let gateway: Gateway;
const reports: InvocationReport[] = [];

beforeAll(async () => {
  gateway = await startGateway({ template, port: 0, dynamodbPort: 0, ...noise(), outdir });
  gateway.events.on('invocation', (r: InvocationReport) => reports.push(r));
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
});

/** An event a fixture stored in the table (see test/fixtures/functions/record.ts); it must come. */
const recorded = async (kind: string, connectionId: string): Promise<any> => {
  const event = await recordedEvent(gateway, kind, connectionId, 15_000);
  if (event === undefined) throw new Error(`timed out waiting for ${kind} has ${connectionId}`);
  return event;
};

const refusal = (query: string) =>
  TestClient.open(`${gateway.wsUrl}${query}`).then(
    (client) => {
      client.close();
      throw new Error('the upgrade was accepted');
    },
    (error: { status?: number; body?: string }) => error,
  );

describe('$connect', () => {
  test('a non-2xx rejects the upgrade and the client sees that status and body', async () => {
    const error = await refusal(`?name=${encodeURIComponent('bad<name>')}`);
    expect(error.status).toBe(400);
    expect(JSON.parse(error.body!)).toEqual({ message: 'invalid name' });
  });

  test('a throw is a 500, a timeout a 504', async () => {
    expect((await refusal('?name=throw')).status).toBe(500);
    expect((await refusal('?name=slow')).status).toBe(504);
    const slow = reports.find((r) => r.route === '$connect' && r.status === 'timeout');
    expect(slow?.functionName).toBe('ConnectFunction');
  }, 20_000);

  test('the $connect and $disconnect events carry what API Gateway sends', async () => {
    const client = await TestClient.open(`${gateway.wsUrl}/local?name=record&tag=a&tag=b`, { headers: { 'X-Custom': 'yes', 'User-Agent': 'rules-test' } });
    client.send('who am I?');
    const [echo] = await client.waitFor((d) => d?.event);
    const id = echo.event.requestContext.connectionId;
    await client.close(4000);
    const connect = await recorded('connect-events', id);
    expect(connect.headers).toMatchObject({
      'X-Custom': 'yes',
      'User-Agent': 'rules-test',
      'Sec-WebSocket-Version': '13',
      'X-Forwarded-For': '127.0.0.1',
      'X-Forwarded-Port': String(gateway.port),
      'X-Forwarded-Proto': 'http',
      'X-Amzn-Trace-Id': expect.stringMatching(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/),
    });
    expect(connect.multiValueHeaders['X-Custom']).toEqual(['yes']);
    expect(connect.queryStringParameters).toEqual({ name: 'record', tag: 'b' });
    expect(connect.multiValueQueryStringParameters).toEqual({ name: ['record'], tag: ['a', 'b'] });
    expect(connect.isBase64Encoded).toBe(false);
    expect(connect.requestContext).toMatchObject({
      routeKey: '$connect',
      eventType: 'CONNECT',
      connectionId: id,
      stage: 'local',
      apiId: 'localapi01',
      identity: { sourceIp: '127.0.0.1', userAgent: 'rules-test' },
    });
    const disconnect = await recorded('disconnect-events', id);
    expect(disconnect.requestContext).toMatchObject({
      routeKey: '$disconnect',
      eventType: 'DISCONNECT',
      connectionId: id,
      disconnectStatusCode: 4000,
      connectedAt: connect.requestContext.connectedAt,
    });
  });

  test('a message event is shaped like the ones API Gateway sends', async () => {
    const client = await TestClient.open(`${gateway.wsUrl}?name=ok`);
    client.send(JSON.stringify({ action: 'nothing-routes-this' }));
    const [echo] = await client.waitFor((d) => d?.event);
    expect(echo.event.requestContext).toMatchObject({
      routeKey: '$default',
      eventType: 'MESSAGE',
      messageDirection: 'IN',
      stage: 'local',
      apiId: 'localapi01',
      connectionId: expect.stringMatching(/^[A-Za-z0-9_-]{15}=$/),
      messageId: expect.any(String),
      requestId: expect.any(String),
      connectedAt: expect.any(Number),
      requestTimeEpoch: expect.any(Number),
      requestTime: expect.stringMatching(/^\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000$/),
      identity: { sourceIp: '127.0.0.1' },
      domainName: 'localapi01.execute-api.us-east-1.amazonaws.com',
    });
    expect(echo.event.isBase64Encoded).toBe(false);
    expect(echo.event.body).toBe('{"action":"nothing-routes-this"}');
    // The function ran with the template's environment, intrinsics resolved; no endpoint variable
    // is set (the template's empty ones stay empty): it reaches AWS's host names, as in AWS.
    expect(echo.env).toEqual({
      TABLE_NAME: gateway.tableName,
      TABLE_ARN: `arn:aws:dynamodb:us-east-1:123456789012:table/${gateway.tableName}`,
      GREETING: 'hello from us-east-1',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_DYNAMODB: '',
      AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: '',
    });
    expect(echo.context).toMatchObject({ functionName: 'EchoFunction', awsRequestId: expect.any(String) });
    expect(echo.context.remainingMs).toBeGreaterThan(0);
    expect(echo.context.remainingMs).toBeLessThanOrEqual(8_000); // the template's Timeout: 8
    await client.close();
  });

  test('the subprotocol $connect answers with is the one negotiated', async () => {
    const client = await TestClient.open(`${gateway.wsUrl}?name=proto`, { protocols: ['chat.v1', 'chat.v0'] });
    expect(client.ws.protocol).toBe('chat.v1');
    await client.close();
  });

  test('a post to the connection during $connect is 410: it does not exist yet', async () => {
    // The registry only learns the id once $connect has succeeded: a refused one never appears.
    const error = await refusal(`?name=${encodeURIComponent('no way!')}`);
    expect(error.status).toBe(400);
    const refused = reports.filter((r) => r.route === '$connect' && r.statusCode === 400).at(-1)!;
    const res = await signedConnectionsFetch(gateway.managementEndpoint, refused.connectionId, 'GET');
    expect(res.status).toBe(410);
  });
});

describe('routing', () => {
  test('JSON with a known action goes to its route; anything else to $default', async () => {
    const client = await TestClient.open(gateway.wsUrl);
    client.send('not json at all');
    client.send({ action: 'unknown' });
    client.send({ noAction: true });
    const echoes = await client.waitFor((d) => d?.event, { count: 3 });
    expect(echoes.map((e) => e.event.requestContext.routeKey)).toEqual(['$default', '$default', '$default']);
    const before = reports.length;
    client.send({ action: 'sleep', ms: 0 });
    await eventually(() => reports.slice(before).some((r) => r.route === 'sleep' && r.functionName === 'SleepFunction'), 'the sleep route ran');
    await client.close();
  });

  test('a binary frame reaches $default base64-encoded', async () => {
    const client = await TestClient.open(gateway.wsUrl);
    client.ws.send(Buffer.from([1, 2, 3, 250]), { binary: true });
    const [echo] = await client.waitFor((d) => d?.event);
    expect(echo.event.isBase64Encoded).toBe(true);
    expect(Buffer.from(echo.event.body, 'base64')).toEqual(Buffer.from([1, 2, 3, 250]));
    await client.close();
  });

  test('a function error tells the client "Internal server error"; a timeout "Endpoint request timed out"', async () => {
    const client = await TestClient.open(gateway.wsUrl);
    client.send({ action: 'crash' });
    const [crash] = await client.waitFor((d) => d?.message === 'Internal server error');
    expect(crash.connectionId).toEqual(expect.any(String));
    client.send({ action: 'sleep', ms: 5_000 }); // SleepFunction's Timeout is 1 s
    await client.waitFor((d) => d?.message === 'Endpoint request timed out');
    // The timed-out instance was killed; the next invocation gets a fresh one and succeeds.
    const before = reports.length;
    client.send({ action: 'sleep', ms: 0 });
    await eventually(() => reports.slice(before).some((r) => r.route === 'sleep' && r.status === 'ok'), 'a sleep succeeded after the timeout');
    await client.close();
  }, 20_000);
});

describe('limits', () => {
  test('a frame over 32 KB closes the connection with 1009', async () => {
    const client = await TestClient.open(gateway.wsUrl);
    client.send('z'.repeat(32 * 1024 + 1));
    expect((await client.closed).code).toBe(1009);
  });

  test('a 32 KB frame is fine', async () => {
    const client = await TestClient.open(gateway.wsUrl);
    client.send('z'.repeat(32 * 1024));
    const [echo] = await client.waitFor((d) => d?.event);
    expect(echo.event.body.length).toBe(32 * 1024);
    await client.close();
  });

  test('a message over 128 KB in frames of 32 KB closes with 1009', async () => {
    const client = await TestClient.open(gateway.wsUrl);
    const chunk = 'q'.repeat(32 * 1024);
    for (let i = 0; i < 4; i++) client.ws.send(chunk, { fin: false });
    client.ws.send('q', { fin: true });
    expect((await client.closed).code).toBe(1009);
  });

  test('idle and maximum-duration timeouts close with 1001 and run $disconnect', async () => {
    const short = await startGateway({ template, port: 0, dynamodbPort: 0, ...noise(), outdir, idleTimeoutMs: 300, maxDurationMs: 1_500 });
    const seen: InvocationReport[] = [];
    short.events.on('invocation', (r: InvocationReport) => seen.push(r));
    try {
      const idle = await TestClient.open(short.wsUrl);
      expect((await idle.closed).code).toBe(1001);
      // Activity keeps a connection open until its maximum duration.
      const busy = await TestClient.open(short.wsUrl);
      const ping = setInterval(() => busy.ws.ping(), 100);
      const closed = await busy.closed;
      clearInterval(ping);
      expect(closed.code).toBe(1001);
      expect(closed.reason).toContain('maximum connection duration');
      await eventually(() => seen.filter((r) => r.route === '$disconnect').length === 2, 'both disconnects ran');
    } finally {
      await short.stop();
    }
  }, 30_000);
});
