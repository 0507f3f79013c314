import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { ApiGatewayManagementApiClient, DeleteConnectionCommand, GetConnectionCommand, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { classifyError } from './classify.ts';
import { TransportError, type Transport } from './transport.ts';

export interface TransportOptions {
  /** The @connections endpoint, stage path included: https://{apiId}.execute-api.{region}.{dnsSuffix}/{stage} */
  endpoint: string;
  region: string;
  /** Per-request ceiling. The SDK has none by default (aws-sdk-js-v3#6896). */
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
  /** Sockets per origin; the engine never has more requests in flight than its concurrency. */
  maxSockets: number;
}

const keepAliveAgents = (maxSockets: number) => ({
  httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
  httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
});

/**
 * The plain path: the SDK's own client and commands. SDK retries are off (maxAttempts 1) because
 * the engine retries within the invocation's deadline; two layers would multiply attempts.
 */
export const createSdkTransport = (options: TransportOptions): Transport => {
  const client = new ApiGatewayManagementApiClient({
    endpoint: options.endpoint,
    region: options.region,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({
      ...keepAliveAgents(options.maxSockets),
      connectionTimeout: options.connectionTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      throwOnRequestTimeout: true,
    }),
  });
  // Confirmations (GetConnection) on sockets of their own, never reused (see Transport.confirmGone).
  const confirmations = new ApiGatewayManagementApiClient({
    endpoint: options.endpoint,
    region: options.region,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({
      httpAgent: new HttpAgent({ keepAlive: false }),
      httpsAgent: new HttpsAgent({ keepAlive: false }),
      connectionTimeout: options.connectionTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      throwOnRequestTimeout: true,
    }),
  });
  const rethrow = (error: unknown, signal: AbortSignal): never => {
    throw new TransportError(classifyError(error, signal.aborted), { cause: error });
  };
  return {
    async post(connectionId, body, signal) {
      await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: body }), { abortSignal: signal }).catch((e) => rethrow(e, signal));
    },
    async delete(connectionId, signal) {
      await client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }), { abortSignal: signal }).catch((e) => rethrow(e, signal));
    },
    async confirmGone(connectionId, signal) {
      try {
        await confirmations.send(new GetConnectionCommand({ ConnectionId: connectionId }), { abortSignal: signal });
        return false;
      } catch (error) {
        const failure = classifyError(error, signal.aborted);
        if (failure.kind === 'gone') return true;
        throw new TransportError(failure, { cause: error });
      }
    },
    destroy() {
      client.destroy();
      confirmations.destroy();
    },
  };
};
