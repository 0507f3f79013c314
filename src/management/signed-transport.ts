// A lean PostToConnection / DeleteConnection path, built from the SDK's own parts: its credential
// chain (credentials.ts), with a SigV4 signer specialised for these two requests (sigv4.ts: ~10x cheaper than
// SignatureV4, proven byte-identical by test) and a keep-alive HTTP/1.1 client (http1-pool.ts:
// ~2.5x cheaper than node:http per request). It skips the per-command middleware stack (endpoint
// rules, schema serde, user agent, retry bookkeeping, error deserializer), which profiling showed
// is most of the SDK's CPU per message; see bench/README.md.
// test/framework/unit/signed-transport.test.ts proves that it sends the same method, path, body and
// signature as PostToConnectionCommand and classifies failures the same way.
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { classifyError, kindOfStatus } from './classify.ts';
import { defaultCredentials } from './credentials.ts';
import { Http1Pool } from './http1-pool.ts';
import { ConnectionsSigner, escapeUri } from './sigv4.ts';
import { TransportError, type Transport } from './transport.ts';

export interface SignedTransportOptions {
  /** `https://{apiId}.execute-api.{region}.{dnsSuffix}/{stage}`, or any override. */
  endpoint: string;
  region: string;
  requestTimeoutMs?: number;
  connectionTimeoutMs?: number;
  maxSockets?: number;
  /** Fixed credentials or a provider. Default: the SDK's Node credential chain. */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Fixed signing time, for tests that compare signatures. Default: now. */
  signingDate?: () => Date;
}

interface ErrorBody {
  message?: string | null;
  Message?: string | null;
  __type?: string;
  code?: string;
}

/** The AWS error type, as the SDK's rest-json deserializer reads it (header, then body). */
const errorName = (header: string | undefined, parsed: ErrorBody): string => {
  const raw = header ?? parsed.__type ?? parsed.code ?? 'Unknown';
  // "ForbiddenException:http://internal.amazon.com/..." and "aws#GoneException" both occur.
  const noUri = raw.split(':')[0] ?? raw;
  return noUri.includes('#') ? noUri.slice(noUri.indexOf('#') + 1) : noUri;
};

const toFailure = (status: number, headers: Record<string, string>, body: Buffer) => {
  const text = body.toString('utf8');
  let parsed: ErrorBody = {};
  try {
    parsed = text ? (JSON.parse(text) as ErrorBody) : {};
  } catch {
    /* not JSON: keep the status */
  }
  const name = errorName(headers['x-amzn-errortype'], parsed);
  const message = parsed.message ?? parsed.Message ?? 'UnknownError';
  return new TransportError({ kind: kindOfStatus(status, name), status, name, message });
};

export const createSignedTransport = (options: SignedTransportOptions): Transport => {
  const url = new URL(options.endpoint);
  // The stage path of the endpoint ("/prod"), without a trailing slash.
  const basePath = url.pathname.replace(/\/+$/, '');
  const host = url.host; // includes a non-default port, as the SDK's host header does
  // Timeouts and sockets default in the pool (http1-pool.ts), which leaves undefined ones to them.
  const pool = new Http1Pool({
    origin: url.origin,
    maxSockets: options.maxSockets,
    connectTimeoutMs: options.connectionTimeoutMs,
    timeoutMs: options.requestTimeoutMs,
  });
  // Confirmations (GetConnection) go on sockets of their own, one per request (Connection: close):
  // a stray answer on a pooled socket is what they are there to see through.
  const confirmations = new Http1Pool({
    origin: url.origin,
    maxSockets: Math.min(10, options.maxSockets ?? 10),
    connectTimeoutMs: options.connectionTimeoutMs,
    timeoutMs: options.requestTimeoutMs,
  });
  // The environment's credentials (Lambda's), else the SDK's chain, loaded on demand; it memoizes,
  // and refreshes temporary credentials shortly before they expire.
  const signer = new ConnectionsSigner({ credentials: options.credentials ?? defaultCredentials(), region: options.region });

  const request = async (method: 'POST' | 'DELETE' | 'GET', connectionId: string, body: Uint8Array | undefined, signal: AbortSignal) => {
    const path = `${basePath}/@connections/${escapeUri(connectionId)}`;
    const headers = await signer.sign({ method, host, path, body, date: options.signingDate?.() });
    if (method === 'GET') headers.connection = 'close';
    // X-Ray propagation, as the SDK's recursion-detection middleware does it from the environment
    // (unsigned header). Read per request: the runtime sets it per invocation.
    const traceId = process.env._X_AMZN_TRACE_ID;
    if (traceId && process.env.AWS_LAMBDA_FUNCTION_NAME) headers['X-Amzn-Trace-Id'] = traceId;
    let response: Awaited<ReturnType<typeof pool.request>>;
    try {
      response = await (method === 'GET' ? confirmations : pool).request({ method, path, headers, body, signal });
    } catch (error) {
      throw new TransportError(classifyError(error, signal.aborted), { cause: error });
    }
    if (response.status >= 200 && response.status < 300) return;
    throw toFailure(response.status, response.headers, response.body);
  };

  return {
    post: (connectionId, body, signal) => request('POST', connectionId, body, signal),
    delete: (connectionId, signal) => request('DELETE', connectionId, undefined, signal),
    confirmGone: (connectionId, signal) =>
      request('GET', connectionId, undefined, signal).then(
        () => false,
        (error: TransportError) => {
          if (error.failure?.kind === 'gone') return true;
          throw error;
        },
      ),
    destroy: () => {
      pool.destroy();
      confirmations.destroy();
    },
  };
};
