// The gateway at its edges, as API Gateway and Lambda behave there (test/fixtures/edge-functions):
// hostile names in headers and query strings, malformed %-escapes, malformed upgrades (refused
// before $connect), clients that hang up during $connect (each still gets its $disconnect), a
// client that never reads (429 for it, nobody else waits), a failed invocation's error in the log,
// a function reaching an AWS host the gateway does not serve (refused, loudly), and a post without
// execute-api:ManageConnections (403).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { request } from 'node:http';
import { connect } from 'node:net';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import type { InvocationReport } from '../../src/websocket-api.ts';
import { TestClient, capturedLog, eventually, signedFetch, sleep } from './support.ts';

const { lines, logger } = capturedLog();
let gateway: Gateway;
const reports: InvocationReport[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  gateway = await startGateway({ template: 'test/fixtures/edge-functions/template.yaml', port: 0, dynamodbPort: 0, logger });
  gateway.events.on('invocation', (r: InvocationReport) => reports.push(r));
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await gateway?.stop();
});

const open = async (query = '', headers: Record<string, string> = {}) => {
  const client = await TestClient.open(`${gateway.wsUrl}${query}`, { headers });
  clients.push(client);
  return client;
};

/** A raw upgrade request; resolves with the status line's code (or 'closed' when the socket closed unanswered). */
const rawUpgrade = (headers: Record<string, string>, method = 'GET', path = '/'): Promise<number | 'closed'> =>
  new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: gateway.port, path, method, headers: { Connection: 'Upgrade', Upgrade: 'websocket', ...headers } });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode!);
    });
    req.on('error', () => resolve('closed'));
    req.end();
  });

const goodKey = 'dGhlIHNhbXBsZSBub25jZQ==';
const connects = () => reports.filter((r) => r.route === '$connect').length;

describe('bad input', () => {
  test('query keys and headers named __proto__, constructor, toString, hasOwnProperty reach $connect as plain values', async () => {
    const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
    const query = `?check=keys&${names.map((n) => `${n}=q-${n}`).join('&')}`;
    const client = await open(query, Object.fromEntries(names.map((n) => [n, `h-${n}`])));
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });

  test('a malformed %-escape in a @connections path is a 400, never a 500', async () => {
    for (const path of ['/@connections/%E0%A4%A', `/${gateway.stage}/@connections/abc%ZZ`, '/%E0%A4%A/@connections/abc']) {
      const res = await signedFetch(`http://127.0.0.1:${gateway.port}${path}`, 'POST', 'x');
      expect({ path, status: res.status, type: res.headers.get('x-amzn-errortype') }).toEqual({ path, status: 400, type: 'BadRequestException' });
    }
  });

  test('a malformed upgrade is refused with a status before $connect runs: 20 bad keys leave no $connect', async () => {
    const before = connects();
    const bad = await Promise.all(Array.from({ length: 20 }, (_, i) => rawUpgrade({ 'Sec-WebSocket-Key': `not-a-key-${i}`, 'Sec-WebSocket-Version': '13' })));
    expect(bad).toEqual(Array(20).fill(400));
    expect(await rawUpgrade({ 'Sec-WebSocket-Version': '13' })).toBe(400); // no key at all
    expect(await rawUpgrade({ 'Sec-WebSocket-Key': goodKey, 'Sec-WebSocket-Version': '12' })).toBe(400);
    expect(await rawUpgrade({ 'Sec-WebSocket-Key': goodKey, 'Sec-WebSocket-Version': '13' }, 'POST')).toBe(405);
    expect(await rawUpgrade({ 'Sec-WebSocket-Key': goodKey, 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Protocol': 'a b, c' })).toBe(400);
    await sleep(200);
    expect(connects()).toBe(before);
    // A good one still works.
    expect(await rawUpgrade({ 'Sec-WebSocket-Key': goodKey, 'Sec-WebSocket-Version': '13' })).toBe(101);
  });

  test('20 clients that hang up during $connect: every $connect that succeeded gets its $disconnect', async () => {
    const before = new Set(reports.map((r) => r.connectionId));
    await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<void>((resolve) => {
            const socket = connect(gateway.port, '127.0.0.1', () => {
              socket.write(
                [
                  'GET /?delay=400 HTTP/1.1',
                  `Host: 127.0.0.1:${gateway.port}`,
                  'Connection: Upgrade',
                  'Upgrade: websocket',
                  `Sec-WebSocket-Key: ${goodKey}`,
                  'Sec-WebSocket-Version: 13',
                  '',
                  '',
                ].join('\r\n'),
              );
              setTimeout(() => {
                socket.destroy();
                resolve();
              }, 100);
            });
            socket.on('error', () => resolve());
          }),
      ),
    );
    const mine = () => reports.filter((r) => !before.has(r.connectionId));
    await eventually(() => mine().filter((r) => r.route === '$connect').length === 20, 'the 20 $connects returned');
    const connected = mine()
      .filter((r) => r.route === '$connect' && r.statusCode === 200)
      .map((r) => r.connectionId)
      .sort();
    expect(connected).toHaveLength(20);
    await eventually(() => mine().filter((r) => r.route === '$disconnect').length === 20, 'each got its $disconnect');
    expect(
      mine()
        .filter((r) => r.route === '$disconnect')
        .map((r) => r.connectionId)
        .sort(),
    ).toEqual(connected);
  });
});

describe('errors and endpoints', () => {
  test('a failed invocation prints the function, the route, the error and the first stack lines', async () => {
    const client = await open();
    client.send({ action: 'boom', why: 'on purpose' });
    await client.waitFor((d) => d?.message === 'Internal server error');
    const text = lines.join('');
    const block = text.slice(text.indexOf('boom        BoomFunction'));
    expect(block).toMatch(/^boom {8}BoomFunction \S+ → ERROR \(\d+ ms/);
    expect(block).toContain('  Error: boom from the handler: on purpose');
    // The function's own frames (its CodeUri runs as it is, as on Lambda: the file itself), not the runtime's.
    expect(block).toMatch(/\n {4}at explode \(file:\S+\/edge-functions\/boom\.mjs:2:\d+\)/);
    expect(block.split('\n\n')[0]).not.toContain('runtime.ts');
  });

  test('a call to an AWS host the gateway does not serve fails with ECONNREFUSED and a loud line naming the function and the host', async () => {
    const client = await open();
    client.send({ action: 'reach' });
    const [reply] = await client.waitFor((d) => d?.outcome !== undefined);
    expect(reply.outcome.error).toBe('ECONNREFUSED');
    expect(reply.outcome.message).toContain('sts.us-east-1.amazonaws.com');
    const text = lines.join('');
    expect(text).toMatch(/REFUSED: ReachFunction \(route reach\) tried to reach sts\.us-east-1\.amazonaws\.com:443/);
    // As `sam local`: AWS_SAM_LOCAL; the gateway's own settings are gone from the handler's view;
    // each instance has credentials of its own, STS-shaped.
    expect(reply.env).toEqual({
      AWS_SAM_LOCAL: 'true',
      NODE_EXTRA_CA_CERTS: null,
      WS_OUTBOX_EGRESS: null,
      AWS_ACCESS_KEY_ID: expect.stringMatching(/^ASIA[A-Z2-7]{16}$/),
      AWS_SESSION_TOKEN: 'set',
    });
  });

  test('a post without execute-api:ManageConnections is a 403 ForbiddenException, logged with the missing statement', async () => {
    const client = await open();
    client.send({ action: 'noperm' });
    await eventually(() => lines.some((l) => l.includes('NOPERM')), 'NoPermFunction logged the answer');
    const answer = lines.find((l) => l.includes('NOPERM'))!;
    expect(answer).toContain(
      'NOPERM ForbiddenException 403 User: arn:aws:sts::123456789012:assumed-role/NoPermFunctionRole/NoPermFunction ' +
        `is not authorized to perform: execute-api:ManageConnections on resource: arn:aws:execute-api:us-east-1:123456789012:localapi01/${gateway.stage}/POST/@connections/`,
    );
    expect(lines.join('')).toContain('IAM: NoPermFunction (route noperm) may not execute-api:ManageConnections');
    expect(client.matching((d) => d === 'should not arrive')).toEqual([]);
  });
});

describe('backpressure', () => {
  test('a client that never reads: POSTs to it answer 429 LimitExceededException, other clients are served at once', async () => {
    const lastConnection = () => reports.filter((r) => r.route === '$connect' && r.statusCode === 200).at(-1)!.connectionId;
    const slow = await open();
    const slowConnection = lastConnection();
    const fast = await open();
    const fastConnection = lastConnection();
    // Stop reading: what the gateway writes piles up in the kernel's buffers, then in its own.
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const api = new ApiGatewayManagementApiClient({
      endpoint: gateway.managementEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 1,
    });
    const chunk = new Uint8Array(128 * 1024 - 1).fill(97);
    let error: (Error & { $metadata?: { httpStatusCode?: number } }) | undefined;
    let accepted = 0;
    for (let i = 0; i < 400 && !error; i++) {
      await api.send(new PostToConnectionCommand({ ConnectionId: slowConnection, Data: chunk })).then(
        () => accepted++,
        (e: Error) => {
          error = e;
        },
      );
    }
    expect(accepted).toBeGreaterThan(8); // 1 MiB held for it, after what the kernel took
    expect(error?.name).toBe('LimitExceededException');
    expect(error?.$metadata?.httpStatusCode).toBe(429);
    // The others are not held up: a post to a reading client goes through and arrives.
    await api.send(new PostToConnectionCommand({ ConnectionId: fastConnection, Data: 'still flowing' }));
    await fast.waitFor((d) => d === 'still flowing', { timeoutMs: 5_000 });
    api.destroy();
  }, 60_000);
});
