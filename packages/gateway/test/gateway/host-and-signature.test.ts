// A page on another origin that points its own name at 127.0.0.1 (DNS rebinding) must get nothing
// from the gateway: no dev token, no socket, no @connections call, no table. And @connections wants
// a SigV4 signature, as API Gateway does. Real gateway (the example's template), real requests.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import { createHostCheck, hostNameOf, isLoopbackName } from '../../src/host-check.ts';
import { openAs, signedConnectionsFetch } from './support.ts';

let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway({
    template: 'test/fixtures/template.yaml',
    port: 0,
    dynamodbPort: 0,
    quiet: process.env.GATEWAY_LOG === undefined,
    outdir: mkdtempSync(join(tmpdir(), 'gw-host-')),
  });
}, 120_000);

afterAll(async () => {
  await gateway?.stop();
});

/** A plain HTTP request to one of the gateway's ports, with the Host header a browser would send. */
const send = (port: number, host: string, options: { method?: string; path: string; headers?: Record<string, string>; body?: string }) =>
  new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path, headers: { host, ...options.headers } }, (res) => {
      let body = '';
      res
        .setEncoding('utf8')
        .on('data', (c: string) => {
          body += c;
        })
        .on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body ?? '');
  });

const dynamodbPort = () => Number(new URL(gateway.dynamodbEndpoint).port);

describe('Host names other than loopback and the emulated AWS hosts are refused (DNS rebinding)', () => {
  test('a rebinding page gets no dev token, no @connections, no DynamoDB, no socket', async () => {
    const evil = `rebind.attacker.example:${gateway.port}`;
    const token = await send(gateway.port, evil, { path: '/dev/token?name=mallory' });
    expect(token.status).toBe(403);
    expect(token.body).not.toMatch(/eyJ/);
    expect(JSON.parse(token.body).message).toMatch(/Invalid Host header "rebind.attacker.example:\d+".*DNS rebinding.*--allowed-host/);
    expect((await send(gateway.port, evil, { method: 'DELETE', path: '/@connections/abc' })).status).toBe(403);
    expect((await send(gateway.port, evil, { path: '/' })).status).toBe(403);
    const table = await send(dynamodbPort(), `rebind.attacker.example:${dynamodbPort()}`, {
      method: 'POST',
      path: '/',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.ListTables' },
      body: '{}',
    });
    expect(table.status).toBe(403);
    expect(table.body).not.toMatch(/TableNames/);
    // The socket: the upgrade is refused before the authorizer or $connect run.
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(gateway.wsUrl, { headers: { host: evil, origin: 'http://rebind.attacker.example' } });
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.on('open', () => {
        resolve(101);
        ws.close();
      });
      ws.on('error', () => resolve(-1));
    });
    expect(refused).toBe(403);
  });

  test('loopback names are served: 127.0.0.1, localhost, [::1]-style and *.localhost', async () => {
    for (const host of [`127.0.0.1:${gateway.port}`, `localhost:${gateway.port}`, `app.localhost:${gateway.port}`]) {
      const answer = await send(gateway.port, host, { path: '/dev/token?name=alice' });
      expect({ host, status: answer.status }).toEqual({ host, status: 200 });
    }
    // The SDK's DynamoDB client names 127.0.0.1:<port>.
    const table = await send(dynamodbPort(), `127.0.0.1:${dynamodbPort()}`, { path: '/', method: 'GET' });
    expect(table.status).not.toBe(403);
  });

  test('/dev/token only to loopback names: not to the execute-api host a function can call', async () => {
    const answer = await send(gateway.port, 'localapi01.execute-api.us-east-1.amazonaws.com', { path: '/dev/token?name=alice' });
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body).message).toMatch(/the dev issuer answers loopback names only/);
  });

  test('the host check by itself: names, ports, brackets, extra names', () => {
    const check = createHostCheck(['dev.example.test', '0.0.0.0']);
    const h = (host: string) => ({ headers: { host } });
    expect(hostNameOf(h('[::1]:3001'))).toBe('::1');
    expect(hostNameOf(h('LocalHost.:3001'))).toBe('localhost');
    expect([isLoopbackName('127.8.9.10'), isLoopbackName('::1'), isLoopbackName('a.localhost'), isLoopbackName('localhost.attacker.example')]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(check.allows(h('dev.example.test:3001'))).toBe(true);
    expect(check.loopback(h('dev.example.test:3001'))).toBe(false);
    expect(check.allows(h('0.0.0.0:3001'))).toBe(false);
    expect(check.allows(h(''))).toBe(false);
  });
});

describe('@connections requires a SigV4 signature, as API Gateway does', () => {
  test.each(['POST', 'GET', 'DELETE'] as const)('%s without one: 403 MissingAuthenticationTokenException, and the connection is untouched', async (method) => {
    // The victim: its id is in the `joined` its room sends it.
    const client = await openAs(gateway.wsUrl, `victim-${method}`);
    client.send(JSON.stringify({ action: 'join', room: `r-${method}` }));
    const [joined] = await client.waitFor((d) => d?.type === 'joined');
    const answer = await send(gateway.port, `127.0.0.1:${gateway.port}`, {
      method,
      path: `/@connections/${encodeURIComponent(joined.connectionId)}`,
      body: method === 'POST' ? 'forged' : undefined,
    });
    expect(answer.status).toBe(403);
    expect(answer.headers['x-amzn-errortype']).toBe('MissingAuthenticationTokenException');
    expect(JSON.parse(answer.body)).toEqual({ message: 'Missing Authentication Token' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    expect(client.received.map((r) => r.raw.toString())).not.toContain('forged');
    await client.close();
  });

  test('a header that is not SigV4: 403 IncompleteSignatureException', async () => {
    const answer = await send(gateway.port, `127.0.0.1:${gateway.port}`, {
      method: 'POST',
      path: '/@connections/whoever',
      headers: { authorization: 'Bearer abc' },
      body: 'hi',
    });
    expect(answer.status).toBe(403);
    expect(answer.headers['x-amzn-errortype']).toBe('IncompleteSignatureException');
  });

  test('signed (as the SDK and the library sign): served', async () => {
    const res = await signedConnectionsFetch(gateway.managementEndpoint, 'no-such-id', 'GET');
    expect(res.status).toBe(410);
  });
});
