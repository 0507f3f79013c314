import { afterEach, describe, expect, it } from '@jest/globals';
import {
  ApiGatewayManagementApiClient,
  ApiGatewayManagementApiServiceException,
  ForbiddenException,
  GoneException,
  LimitExceededException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { mockClient } from 'aws-sdk-client-mock';
import { createSdkTransport } from '../../../src/management/sdk-transport.ts';
import { TransportError } from '../../../src/management/transport.ts';

// Error paths of the plain SDK path, with the SDK's own exception classes. The same classes are
// met for real over HTTP in test/framework/integration/delivery.test.ts.
const mock = mockClient(ApiGatewayManagementApiClient);
afterEach(() => {
  mock.reset();
});

const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode }, message: 'x' });
const transport = () =>
  createSdkTransport({
    endpoint: 'https://abc.execute-api.us-east-1.amazonaws.com/prod',
    region: 'us-east-1',
    requestTimeoutMs: 100,
    connectionTimeoutMs: 100,
    maxSockets: 2,
  });

const failureOf = async (error: unknown) => {
  mock.on(PostToConnectionCommand).rejects(error as Error);
  try {
    await transport().post('id', new Uint8Array([1]), new AbortController().signal);
  } catch (e) {
    expect(e).toBeInstanceOf(TransportError);
    return (e as TransportError).failure;
  }
  throw new Error('expected a rejection');
};

describe('SDK transport error classification', () => {
  it.each([
    ['410 GoneException', new GoneException(meta(410)), 'gone', 410],
    ['429 LimitExceededException', new LimitExceededException(meta(429)), 'throttled', 429],
    ['403 ForbiddenException', new ForbiddenException(meta(403)), 'forbidden', 403],
    ['413 PayloadTooLargeException', new PayloadTooLargeException(meta(413)), 'too-large', 413],
    ['500 service error', new ApiGatewayManagementApiServiceException({ name: 'InternalServerError', $fault: 'server', ...meta(500) }), 'server', 500],
    ['503 service error', new ApiGatewayManagementApiServiceException({ name: 'ServiceUnavailable', $fault: 'server', ...meta(503) }), 'server', 503],
  ])('%s', async (_label, error, kind, status) => {
    expect(await failureOf(error)).toMatchObject({ kind, status });
  });

  it('a reset socket is a network failure (retried)', async () => {
    expect(await failureOf(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toMatchObject({ kind: 'network', name: 'ECONNRESET' });
  });

  it("the SDK's request timeout is a timeout (retried)", async () => {
    expect(await failureOf(Object.assign(new Error('timed out'), { name: 'TimeoutError' }))).toMatchObject({ kind: 'timeout' });
  });

  it('sends the bytes as Data to the connection id', async () => {
    mock.on(PostToConnectionCommand).resolves({});
    await transport().post('L0SM9cOFvHcCIhw=', new TextEncoder().encode('hello'), new AbortController().signal);
    const input = mock.commandCalls(PostToConnectionCommand)[0]!.args[0].input;
    expect(input.ConnectionId).toBe('L0SM9cOFvHcCIhw=');
    expect(new TextDecoder().decode(input.Data as Uint8Array)).toBe('hello');
  });
});
