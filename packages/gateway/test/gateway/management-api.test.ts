// The @connections management API of the local gateway, through the real AWS SDK client
// (SigV4-signed requests, its own error parsing), against real WebSocket clients.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiGatewayManagementApiClient, DeleteConnectionCommand, GetConnectionCommand, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import { signedConnectionsFetch, signedFetch, TestClient } from './support.ts';

let gateway: Gateway;
let sdk: ApiGatewayManagementApiClient;

/** Connects and learns the connection id from the echo fixture ($default posts the event back). */
const connect = async (query = '?name=tester'): Promise<{ client: TestClient; id: string }> => {
  const client = await TestClient.open(`${gateway.wsUrl}${query}`, { headers: { 'User-Agent': 'gateway-test/1.0' } });
  client.send('who am I?');
  const [echo] = await client.waitFor((d) => d?.event !== undefined);
  return { client, id: echo.event.requestContext.connectionId };
};

beforeAll(async () => {
  gateway = await startGateway({
    template: 'test/fixtures/mechanics-template.yaml',
    port: 0,
    dynamodbPort: 0,
    quiet: process.env.GATEWAY_LOG === undefined,
    outdir: mkdtempSync(join(tmpdir(), 'gw-mgmt-')),
  });
  sdk = new ApiGatewayManagementApiClient({
    endpoint: gateway.managementEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' },
  });
}, 60_000);

afterAll(async () => {
  sdk?.destroy();
  await gateway?.stop();
});

describe('POST (PostToConnection)', () => {
  test('delivers a text payload as one text frame, 200', async () => {
    const { client, id } = await connect();
    const out = await sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: JSON.stringify({ hello: 'world' }) }));
    expect(out.$metadata.httpStatusCode).toBe(200);
    const [got] = await client.waitFor((d) => d?.hello === 'world');
    expect(got).toEqual({ hello: 'world' });
    expect(client.received.at(-1)!.isBinary).toBe(false);
    await client.close();
  });

  test('delivers bytes that are not UTF-8 as a binary frame', async () => {
    const { client, id } = await connect();
    const bytes = Uint8Array.from([0xff, 0x00, 0xfe, 0x01]);
    await sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: bytes }));
    await client.waitFor(() => client.received.some((r) => r.isBinary));
    const binary = client.received.find((r) => r.isBinary)!;
    expect([...binary.raw]).toEqual([...bytes]);
    await client.close();
  });

  test('works on the stage-less path too, with the id URL-encoded', async () => {
    const { client, id } = await connect();
    const res = await signedFetch(`http://127.0.0.1:${gateway.port}/@connections/${encodeURIComponent(id)}`, 'POST', 'plain text');
    expect(res.status).toBe(200);
    await client.waitFor((d) => d === 'plain text');
    await client.close();
  });

  test('a payload over 128 KB is refused with 413 PayloadTooLargeException and not delivered', async () => {
    const { client, id } = await connect();
    const before = client.received.length;
    const error = await sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'x'.repeat(128 * 1024 + 1) })).catch((e) => e);
    expect(error.name).toBe('PayloadTooLargeException');
    expect(error.$metadata.httpStatusCode).toBe(413);
    // exactly 128 KB is fine
    await sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'y'.repeat(128 * 1024) }));
    await client.waitFor((d) => typeof d === 'string' && d.startsWith('y'));
    expect(client.received.length).toBe(before + 1);
    await client.close();
  });
});

describe('GET (GetConnection)', () => {
  test('answers ConnectedAt, LastActiveAt and Identity as dates and strings', async () => {
    const { client, id } = await connect();
    const before = Date.now();
    const info = await sdk.send(new GetConnectionCommand({ ConnectionId: id }));
    expect(info.ConnectedAt).toBeInstanceOf(Date);
    expect(info.LastActiveAt).toBeInstanceOf(Date);
    expect(info.ConnectedAt!.getTime()).toBeLessThanOrEqual(before);
    expect(info.LastActiveAt!.getTime()).toBeGreaterThanOrEqual(info.ConnectedAt!.getTime());
    expect(info.Identity).toEqual({ SourceIp: '127.0.0.1', UserAgent: 'gateway-test/1.0' });
    await client.close();
  });
});

describe('DELETE (DeleteConnection)', () => {
  test('closes the socket, 204; the connection is gone afterwards', async () => {
    const { client, id } = await connect();
    const out = await sdk.send(new DeleteConnectionCommand({ ConnectionId: id }));
    expect(out.$metadata.httpStatusCode).toBe(204);
    const closed = await client.closed;
    expect(closed.code).toBe(1000);
    const error = await sdk.send(new GetConnectionCommand({ ConnectionId: id })).catch((e) => e);
    expect(error.name).toBe('GoneException');
  });
});

describe('410 GoneException', () => {
  test.each(['POST', 'GET', 'DELETE'])('%s on an id that never existed', async (method) => {
    const command =
      method === 'POST'
        ? new PostToConnectionCommand({ ConnectionId: 'bm9wZQ==', Data: 'x' })
        : method === 'GET'
          ? new GetConnectionCommand({ ConnectionId: 'bm9wZQ==' })
          : new DeleteConnectionCommand({ ConnectionId: 'bm9wZQ==' });
    const error = await sdk.send(command as never).catch((e: any) => e);
    expect(error.name).toBe('GoneException');
    expect(error.$metadata.httpStatusCode).toBe(410);
    expect(error.$fault).toBe('client');
  });

  test('POST after the client closed', async () => {
    const { client, id } = await connect();
    await client.close();
    const error = await sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'late' })).catch((e) => e);
    expect(error.name).toBe('GoneException');
  });

  test('the raw answer carries x-amzn-ErrorType and a JSON message', async () => {
    const res = await signedConnectionsFetch(gateway.managementEndpoint, 'no/such+id=', 'POST', 'x');
    expect(res.status).toBe(410);
    expect(res.headers.get('x-amzn-errortype')).toBe('GoneException');
    expect(await res.json()).toEqual({ message: expect.stringContaining('no/such+id=') });
  });
});

test('a wrong stage in the path is 403 ForbiddenException', async () => {
  const res = await signedFetch(`http://127.0.0.1:${gateway.port}/prod/@connections/abc`, 'GET');
  expect(res.status).toBe(403);
  expect(res.headers.get('x-amzn-errortype')).toBe('ForbiddenException');
});

test('an unsigned call is 403 MissingAuthenticationTokenException, as API Gateway answers it', async () => {
  const res = await fetch(`http://127.0.0.1:${gateway.port}/@connections/abc`, { method: 'GET' });
  expect(res.status).toBe(403);
  expect(res.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
  expect(await res.json()).toEqual({ message: 'Missing Authentication Token' });
});
