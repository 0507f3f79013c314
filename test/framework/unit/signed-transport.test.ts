// The signed transport must be indistinguishable from PostToConnectionCommand on the wire and in
// how failures are classified. Both paths talk to the same loopback server, with the same fixed
// credentials and a frozen Date, so their SigV4 signatures are comparable byte for byte.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { ApiGatewayManagementApiClient, DeleteConnectionCommand, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { createSdkTransport } from '../../../src/management/sdk-transport.ts';
import { createSignedTransport } from '../../../src/management/signed-transport.ts';
import { escapeUri } from '../../../src/management/sigv4.ts';
import { TransportError, type DeliveryFailure, type Transport } from '../../../src/management/transport.ts';

interface Captured {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const region = 'eu-west-1';
// Headers the SDK adds for its own telemetry and retry bookkeeping. They are signed, and two of
// them are random per call, so they are removed from the SDK request before it is signed; the
// "differs only by" test below pins that this is the whole difference.
const sdkOnlyHeaders = ['amz-sdk-invocation-id', 'amz-sdk-request', 'user-agent', 'x-amz-user-agent'];

// Status, error type and body per connection id, like the real @connections API answers.
const answers: Record<string, { status: number; type?: string; body?: string }> = {
  gone: { status: 410, type: 'GoneException', body: '{"message":null}' },
  throttled: { status: 429, type: 'LimitExceededException', body: '{"message":"Rate exceeded"}' },
  broken: { status: 500, type: 'InternalServerErrorException', body: '{"message":"Internal server error"}' },
  unavailable: { status: 503, body: '{"message":"Service Unavailable"}' },
  forbidden: { status: 403, type: 'ForbiddenException:http://internal.amazon.com/coral/com.amazon.coral.service/', body: '{"message":"Forbidden"}' },
  large: { status: 413, type: 'PayloadTooLargeException', body: '{"message":"Payload too large"}' },
  bad: { status: 400, type: 'BadRequestException', body: '{"message":"Invalid connection id"}' },
};

let server: http.Server;
let endpoint: string;
let captured: Captured[] = [];
const hung: http.ServerResponse[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      captured.push({ method: req.method ?? '', url: req.url ?? '', headers, body: Buffer.concat(chunks).toString('utf8') });
      const id = decodeURIComponent((req.url ?? '').split('/@connections/')[1] ?? '');
      if (id === 'hang') {
        hung.push(res);
        return;
      }
      const answer = answers[id];
      if (!answer) {
        res.writeHead(req.method === 'DELETE' ? 204 : 200);
        res.end();
        return;
      }
      res.writeHead(answer.status, { 'content-type': 'application/json', ...(answer.type ? { 'x-amzn-errortype': answer.type } : {}) });
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod`;
});

afterAll(async () => {
  for (const res of hung) res.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const clients: { destroy(): void }[] = [];
const track = <T extends { destroy(): void }>(c: T): T => {
  clients.push(c);
  return c;
};

beforeEach(() => {
  captured = [];
  // Freeze Date only: both signers read the clock through `new Date()`; sockets and timers stay real.
  jest.useFakeTimers({
    now: new Date('2026-11-27T10:20:30Z'),
    doNotFake: [
      'hrtime',
      'nextTick',
      'performance',
      'queueMicrotask',
      'requestAnimationFrame',
      'cancelAnimationFrame',
      'requestIdleCallback',
      'cancelIdleCallback',
      'setImmediate',
      'clearImmediate',
      'setInterval',
      'clearInterval',
      'setTimeout',
      'clearTimeout',
    ],
  });
});
afterEach(() => {
  jest.useRealTimers();
  for (const c of clients.splice(0)) c.destroy();
});

/** A plain SDK client, as users create it, minus SDK retries and the telemetry headers. */
const sdkClient = (options: { stripTelemetry: boolean; sessionToken?: string }) => {
  const client = track(
    new ApiGatewayManagementApiClient({
      endpoint,
      region,
      maxAttempts: 1,
      credentials: { ...credentials, ...(options.sessionToken ? { sessionToken: options.sessionToken } : {}) },
    }),
  );
  if (options.stripTelemetry) {
    const strip = (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
      const headers = (args as { request: { headers: Record<string, string> } }).request.headers;
      for (const name of Object.keys(headers)) if (sdkOnlyHeaders.includes(name.toLowerCase())) delete headers[name];
      return next(args);
    };
    // Runs after the retry middleware has added its headers, right before the signer.
    client.middlewareStack.addRelativeTo(strip as never, { relation: 'before', toMiddleware: 'httpSigningMiddleware', name: 'stripTelemetry' });
  }
  return client;
};

const signedTransport = (extra: { sessionToken?: string; requestTimeoutMs?: number } = {}) =>
  track(
    createSignedTransport({
      endpoint,
      region,
      requestTimeoutMs: extra.requestTimeoutMs ?? 5_000,
      connectionTimeoutMs: 1_000,
      maxSockets: 4,
      credentials: { ...credentials, ...(extra.sessionToken ? { sessionToken: extra.sessionToken } : {}) },
    }),
  );

const never = new AbortController().signal;
const bytes = (text: string) => new TextEncoder().encode(text);

const lastRequest = (): Captured => {
  const last = captured.at(-1);
  if (!last) throw new Error('no request reached the server');
  // The port-less "connection" header is the agent's business, not the request's.
  const { connection: _ignored, ...headers } = last.headers;
  return { ...last, headers };
};

describe('on the wire, the signed path equals PostToConnectionCommand', () => {
  const ids = ['L0SM9cOFvHcCIhw=', 'a b/c?d#e', "it's (really) *me*!", 'ümlaut-☃', '.', '..'];
  const body = '{"type":"message","room":"lobby","text":"héllo"}';

  test.each(ids)('POST to %j: same method, path, body and signed headers', async (id) => {
    await sdkClient({ stripTelemetry: true }).send(new PostToConnectionCommand({ ConnectionId: id, Data: bytes(body) }));
    const viaSdk = lastRequest();
    await signedTransport().post(id, bytes(body), never);
    const viaSigned = lastRequest();

    expect(viaSigned.method).toBe('POST');
    expect(viaSigned.url).toBe(`/prod/@connections/${escapeUri(id)}`);
    expect(viaSigned.body).toBe(body);
    expect(viaSigned).toEqual(viaSdk); // every header, authorization (the signature) included
    expect(viaSigned.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20261127\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/,
    );
  });

  test('DELETE: same request as DeleteConnectionCommand', async () => {
    await sdkClient({ stripTelemetry: true }).send(new DeleteConnectionCommand({ ConnectionId: 'abc=' }));
    const viaSdk = lastRequest();
    await signedTransport().delete('abc=', never);
    expect(lastRequest()).toEqual(viaSdk);
    expect(viaSdk.method).toBe('DELETE');
  });

  test('temporary credentials: the session token is sent and signed the same way', async () => {
    await sdkClient({ stripTelemetry: true, sessionToken: 'FwoGZXIvYXdzEXAMPLETOKEN' }).send(
      new PostToConnectionCommand({ ConnectionId: 'abc', Data: bytes('x') }),
    );
    const viaSdk = lastRequest();
    await signedTransport({ sessionToken: 'FwoGZXIvYXdzEXAMPLETOKEN' }).post('abc', bytes('x'), never);
    expect(lastRequest()).toEqual(viaSdk);
    expect(viaSdk.headers['x-amz-security-token']).toBe('FwoGZXIvYXdzEXAMPLETOKEN');
  });

  test('one buffer reused with new contents (a module-level buffer on a warm invocation) is signed for what it holds now', async () => {
    const transport = signedTransport();
    const reused = bytes('{"n":1}');
    await transport.post('abc', reused, never); // first invocation
    expect(lastRequest().headers['x-amz-content-sha256']).toBe(createHash('sha256').update('{"n":1}').digest('hex'));
    reused.set(bytes('{"n":2}')); // same object, same length, new contents
    await transport.post('abc', reused, never); // next invocation
    const viaSigned = lastRequest();
    expect(viaSigned.body).toBe('{"n":2}');
    expect(viaSigned.headers['x-amz-content-sha256']).toBe(createHash('sha256').update('{"n":2}').digest('hex'));
    await sdkClient({ stripTelemetry: true }).send(new PostToConnectionCommand({ ConnectionId: 'abc', Data: bytes('{"n":2}') }));
    expect(viaSigned).toEqual(lastRequest()); // the signature AWS would check
  });

  test('the unmodified SDK request differs only by its telemetry headers', async () => {
    await sdkClient({ stripTelemetry: false }).send(new PostToConnectionCommand({ ConnectionId: 'abc', Data: bytes('x') }));
    const viaSdk = lastRequest();
    await signedTransport().post('abc', bytes('x'), never);
    const viaSigned = lastRequest();
    const extra = Object.keys(viaSdk.headers)
      .filter((h) => !(h in viaSigned.headers))
      .sort();
    expect(extra).toEqual([...sdkOnlyHeaders].sort());
    expect(Object.keys(viaSigned.headers).filter((h) => !(h in viaSdk.headers))).toEqual([]);
    for (const h of ['content-type', 'content-length', 'host', 'x-amz-date', 'x-amz-content-sha256']) {
      expect(viaSigned.headers[h]).toBe(viaSdk.headers[h]);
    }
    expect(viaSigned.headers['content-type']).toBe('application/octet-stream');
  });

  test('inside Lambda, the X-Ray trace header is propagated as the SDK does it', async () => {
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'fn';
    process.env._X_AMZN_TRACE_ID = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    try {
      await sdkClient({ stripTelemetry: true }).send(new PostToConnectionCommand({ ConnectionId: 'abc', Data: bytes('x') }));
      const viaSdk = lastRequest();
      await signedTransport().post('abc', bytes('x'), never);
      expect(lastRequest()).toEqual(viaSdk);
      expect(viaSdk.headers['x-amzn-trace-id']).toBe(process.env._X_AMZN_TRACE_ID);
    } finally {
      delete process.env.AWS_LAMBDA_FUNCTION_NAME;
      delete process.env._X_AMZN_TRACE_ID;
    }
  });
});

describe('failures are classified as on the SDK path', () => {
  const failureOf = async (transport: Transport, id: string): Promise<DeliveryFailure> => {
    try {
      await transport.post(id, bytes('x'), never);
    } catch (error) {
      expect(error).toBeInstanceOf(TransportError);
      return (error as TransportError).failure;
    }
    throw new Error(`post to ${id} succeeded`);
  };
  const sdkTransport = () => track(createSdkTransport({ endpoint, region, requestTimeoutMs: 5_000, connectionTimeoutMs: 1_000, maxSockets: 4 }));

  test.each([
    ['gone', 'gone', 410, 'GoneException'],
    ['throttled', 'throttled', 429, 'LimitExceededException'],
    ['broken', 'server', 500, 'InternalServerErrorException'],
    ['unavailable', 'server', 503, undefined],
    ['forbidden', 'forbidden', 403, 'ForbiddenException'],
    ['large', 'too-large', 413, 'PayloadTooLargeException'],
    ['bad', 'client', 400, 'BadRequestException'],
  ])('%s -> %s (%i)', async (id, kind, status, name) => {
    process.env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
    const viaSdk = await failureOf(sdkTransport(), id);
    const viaSigned = await failureOf(signedTransport(), id);
    expect(viaSigned).toMatchObject({ kind, status });
    if (name) expect(viaSigned.name).toBe(name);
    expect({ kind: viaSigned.kind, status: viaSigned.status, name: viaSigned.name }).toEqual({ kind: viaSdk.kind, status: viaSdk.status, name: viaSdk.name });
  });

  test('an unreachable endpoint is a network failure', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const transport = track(
      createSignedTransport({
        endpoint: `http://127.0.0.1:${port}/prod`,
        region,
        credentials,
        requestTimeoutMs: 5_000,
        connectionTimeoutMs: 1_000,
        maxSockets: 1,
      }),
    );
    expect(await failureOf(transport, 'abc')).toMatchObject({ kind: 'network', name: 'ECONNREFUSED' });
  });

  test('a request that never gets an answer ends as a timeout', async () => {
    expect(await failureOf(signedTransport({ requestTimeoutMs: 100 }), 'hang')).toMatchObject({ kind: 'timeout' });
  });

  test('an aborted signal ends the request as a timeout, as the engine expects', async () => {
    const controller = new AbortController();
    const pending = signedTransport().post('hang', bytes('x'), controller.signal);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ failure: { kind: 'timeout' } });
  });
});

test('without explicit credentials, the SDK default chain is used (environment here)', async () => {
  process.env.AWS_ACCESS_KEY_ID = 'AKIDFROMENV';
  process.env.AWS_SECRET_ACCESS_KEY = 'secret-from-env';
  delete process.env.AWS_PROFILE;
  const transport = track(createSignedTransport({ endpoint, region, requestTimeoutMs: 5_000, connectionTimeoutMs: 1_000, maxSockets: 1 }));
  await transport.post('abc', bytes('x'), never);
  expect(lastRequest().headers.authorization).toContain('Credential=AKIDFROMENV/20261127/eu-west-1/execute-api/aws4_request');
});
