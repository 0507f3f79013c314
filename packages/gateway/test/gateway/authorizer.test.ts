// The local gateway's $connect authorizer, as API Gateway runs one, with fixture functions
// (test/fixtures/auth-template.yaml: Auth on a SAM WebSocketApi; raw-auth-template.yaml: an
// AWS::ApiGatewayV2::Authorizer on the $connect route). No example-app code is involved.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import type { InvocationReport } from '../../src/websocket-api.ts';
import { TestClient, expectedNoise, recordedEvent, sleep } from './support.ts';

// The failing-authorizer tests make the gateway log 500s; they are labelled as expected.
const noise = () => expectedNoise('authorizer.test.ts makes authorizers fail on purpose');
const outdir = mkdtempSync(join(tmpdir(), 'gw-auth-'));
let gateway: Gateway;
let raw: Gateway;
const reports: InvocationReport[] = [];

beforeAll(async () => {
  [gateway, raw] = await Promise.all([
    startGateway({ template: 'test/fixtures/auth-template.yaml', port: 0, dynamodbPort: 0, ...noise(), outdir: join(outdir, 'sam') }),
    startGateway({ template: 'test/fixtures/raw-auth-template.yaml', port: 0, dynamodbPort: 0, ...noise(), outdir: join(outdir, 'raw') }),
  ]);
  gateway.events.on('invocation', (r: InvocationReport) => reports.push(r));
}, 90_000);

afterAll(async () => {
  await Promise.all([gateway?.stop(), raw?.stop()]);
  rmSync(outdir, { recursive: true, force: true });
});

const headers = { 'X-Client': 'auth-test' };
let tags = 0;
const tag = () => `t${++tags}`;

const refusal = (gw: Gateway, query: string, h: Record<string, string> = headers) =>
  TestClient.open(`${gw.wsUrl}${query}`, { headers: h }).then(
    (client) => {
      client.close();
      throw new Error('the upgrade was accepted');
    },
    (error: { status?: number; body?: string }) => error,
  );

describe('identity sources', () => {
  test('a missing or empty identity source is 401, and the authorizer never runs', async () => {
    const before = reports.filter((r) => r.route === '$connect authorizer').length;
    const t = tag();
    expect((await refusal(gateway, `?tag=${t}`)).status).toBe(401); // no ?mode=
    expect((await refusal(gateway, `?mode=&tag=${t}`)).status).toBe(401); // empty
    const noHeader = await refusal(gateway, `?mode=allow&tag=${t}`, {});
    expect(noHeader.status).toBe(401);
    expect(JSON.parse(noHeader.body!)).toEqual({ message: 'Unauthorized' });
    expect(reports.filter((r) => r.route === '$connect authorizer').length).toBe(before);
    expect(await recordedEvent(gateway, 'authorizer-events', t, 500)).toBeUndefined();
  });

  test('header names match whatever their case; the authorizer gets a REQUEST event', async () => {
    const t = tag();
    const client = await TestClient.open(`${gateway.wsUrl}?mode=allow&tag=${t}`, { headers: { 'x-CLIENT': 'lower' } });
    const event = await recordedEvent(gateway, 'authorizer-events', t);
    expect(event).toMatchObject({
      type: 'REQUEST',
      methodArn: 'arn:aws:execute-api:us-east-1:123456789012:localapi01/local/$connect',
      queryStringParameters: { mode: 'allow', tag: t },
      requestContext: { routeKey: '$connect', eventType: 'CONNECT', stage: 'local', apiId: 'localapi01' },
    });
    expect(event.headers['x-CLIENT']).toBe('lower');
    expect(event.requestContext.authorizer).toBeUndefined();
    await client.close();
  });
});

describe('the verdict', () => {
  test.each([
    ['an explicit Deny', 'deny', 403],
    ['an Allow on another resource (no statement matches)', 'elsewhere', 403],
    ['a throw of "Unauthorized"', 'unauthorized', 401],
    ['any other throw', 'boom', 500],
    ['a result over 8 KB', 'big', 500],
    ['a context value that is an object', 'nested', 500],
  ])('%s refuses the upgrade with %s', async (_label, mode, status) => {
    const connects = reports.filter((r) => r.route === '$connect').length;
    expect((await refusal(gateway, `?mode=${mode}&tag=${tag()}`)).status).toBe(status);
    // $connect never ran for a refused connection.
    expect(reports.filter((r) => r.route === '$connect').length).toBe(connects);
  });

  test('an Allow with an IAM wildcard resource lets the connection in', async () => {
    const client = await TestClient.open(`${gateway.wsUrl}?mode=wildcard&tag=${tag()}`, { headers });
    await client.close();
  });
});

describe('the context', () => {
  test('reaches $connect, every message and $disconnect, stringified, beside principalId', async () => {
    const client = await TestClient.open(`${gateway.wsUrl}?mode=allow&user=u-42&name=record`, { headers });
    client.send({ action: 'anything' });
    const [echo] = await client.waitFor((d) => d?.event !== undefined);
    const id = echo.event.requestContext.connectionId;
    const expected = { principalId: 'u-42', name: 'record', n: '42', ok: 'true', integrationLatency: expect.any(Number) };
    expect(echo.event.requestContext.authorizer).toMatchObject(expected);
    expect((await recordedEvent(gateway, 'connect-events', id)).requestContext.authorizer).toMatchObject(expected);
    await client.close();
    expect((await recordedEvent(gateway, 'disconnect-events', id)).requestContext.authorizer).toMatchObject(expected);
  });

  test('is per connection: two users on one warm authorizer instance keep their own', async () => {
    const a = await TestClient.open(`${gateway.wsUrl}?mode=allow&user=u-a&name=ann`, { headers });
    const b = await TestClient.open(`${gateway.wsUrl}?mode=allow&user=u-b&name=ben`, { headers });
    a.send({ action: 'x' });
    b.send({ action: 'x' });
    const [ea] = await a.waitFor((d) => d?.event !== undefined);
    const [eb] = await b.waitFor((d) => d?.event !== undefined);
    expect([ea.event.requestContext.authorizer.principalId, ea.event.requestContext.authorizer.name]).toEqual(['u-a', 'ann']);
    expect([eb.event.requestContext.authorizer.principalId, eb.event.requestContext.authorizer.name]).toEqual(['u-b', 'ben']);
    await Promise.all([a.close(), b.close()]);
  });
});

test('the authorizer is a Lambda like the others: frozen when it returns, so its timer waits for the next invocation', async () => {
  const t = tag();
  const first = await TestClient.open(`${gateway.wsUrl}?mode=timer&tag=${t}`, { headers });
  await sleep(400); // the timer (50 ms) would have fired by now in a process that kept running
  expect(await recordedEvent(gateway, 'authorizer-timers', t, 100)).toBeUndefined();
  const second = await TestClient.open(`${gateway.wsUrl}?mode=allow&tag=${tag()}`, { headers });
  // Thawed for the next invocation, the old timer fires then.
  expect(await recordedEvent(gateway, 'authorizer-timers', t)).toBeDefined();
  await Promise.all([first.close(), second.close()]);
});

describe('a raw AWS::ApiGatewayV2::Authorizer on the $connect route', () => {
  test('runs the same way: 401 without its identity source, 403 on Deny, context on the routes when allowed', async () => {
    expect(raw.model.authorizer).toMatchObject({
      kind: 'lambda',
      functionId: 'AuthorizerFunction',
      identitySources: ['route.request.querystring.mode'],
      name: 'raw-authorizer',
    });
    expect((await refusal(raw, '', {})).status).toBe(401);
    expect((await refusal(raw, '?mode=deny', {})).status).toBe(403);
    const client = await TestClient.open(`${raw.wsUrl}?mode=allow&user=raw-user`);
    client.send({ action: 'x' });
    const [echo] = await client.waitFor((d) => d?.event !== undefined);
    expect(echo.event.requestContext.authorizer).toMatchObject({ principalId: 'raw-user', name: 'alice' });
    await client.close();
  });
});
