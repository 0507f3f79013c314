// A lean PostToConnection / DeleteConnection path, built from the SDK's own parts: its credential
// chain, its SigV4 signer, its SHA-256 and its NodeHttpHandler. It skips the per-command
// middleware stack (endpoint rules, schema serde, user agent, retry bookkeeping, error
// deserializer), which profiling showed is most of the SDK's CPU per message; see bench/README.md.
// test/unit/signed-transport.test.ts proves that it sends the same method, path, body and
// signature as PostToConnectionCommand and classifies failures the same way.
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Sha256 } from '@smithy/core/checksum';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { classifyError, kindOfStatus } from './classify.ts';
import { TransportError, type Transport } from './transport.ts';

export interface SignedTransportOptions {
  /** `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`, or any override. */
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

const defaults = {
  requestTimeoutMs: 3_000,
  connectionTimeoutMs: 1_000,
  maxSockets: 50,
};

/** The same escaping the SDK applies to a path label (encodeURIComponent plus !'()*). */
export const encodeLabel = (value: string): string =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

interface ErrorBody { message?: string | null; Message?: string | null; __type?: string; code?: string }

/** Reads a small error body; the management API's errors are tiny JSON documents. */
const readText = (body: Readable): Promise<string> => new Promise((resolve) => {
  let text = '';
  body.setEncoding('utf8');
  body.on('data', (chunk: string) => { text += chunk; });
  body.on('end', () => resolve(text));
  body.on('error', () => resolve(text));
});

/** The AWS error type, as the SDK's rest-json deserializer reads it (header, then body). */
const errorName = (header: string | undefined, parsed: ErrorBody): string => {
  const raw = header ?? parsed.__type ?? parsed.code ?? 'Unknown';
  // "ForbiddenException:http://internal.amazon.com/..." and "aws#GoneException" both occur.
  const noUri = raw.split(':')[0] ?? raw;
  return noUri.includes('#') ? noUri.slice(noUri.indexOf('#') + 1) : noUri;
};

const toFailure = async (status: number, headers: Record<string, string>, body: Readable) => {
  const text = await readText(body);
  let parsed: ErrorBody = {};
  try { parsed = text ? JSON.parse(text) as ErrorBody : {}; } catch { /* not JSON: keep the status */ }
  const name = errorName(headers['x-amzn-errortype'], parsed);
  const message = parsed.message ?? parsed.Message ?? 'UnknownError';
  return new TransportError({ kind: kindOfStatus(status, name), status, name, message });
};

export const createSignedTransport = (options: SignedTransportOptions): Transport => {
  const config = { ...defaults, ...options };
  const url = new URL(config.endpoint);
  const https_ = url.protocol === 'https:';
  // The stage path of the endpoint ("/prod"), without a trailing slash.
  const basePath = url.pathname.replace(/\/+$/, '');
  const host = url.host; // includes a non-default port, as the SDK's host header does
  const port = url.port ? Number(url.port) : undefined;

  const agentOptions = { keepAlive: true, maxSockets: config.maxSockets };
  const handler = new NodeHttpHandler({
    ...(https_ ? { httpsAgent: new https.Agent(agentOptions) } : { httpAgent: new http.Agent(agentOptions) }),
    requestTimeout: config.requestTimeoutMs,
    connectionTimeout: config.connectionTimeoutMs,
    // Without this, NodeHttpHandler only logs a warning when requestTimeout passes.
    throwOnRequestTimeout: true,
  });
  const signer = new SignatureV4({
    // defaultProvider() memoizes, and refreshes temporary credentials shortly before they expire.
    credentials: config.credentials ?? defaultProvider(),
    region: config.region,
    service: 'execute-api',
    sha256: Sha256,
  });

  const request = async (method: 'POST' | 'DELETE', connectionId: string, body: Uint8Array | undefined, signal: AbortSignal) => {
    const headers: Record<string, string> = { host };
    // X-Ray propagation, as the SDK's recursion-detection middleware does it from the environment
    // (unsigned header). Read per request: the runtime sets it per invocation.
    const traceId = process.env._X_AMZN_TRACE_ID;
    if (traceId && process.env.AWS_LAMBDA_FUNCTION_NAME) headers['X-Amzn-Trace-Id'] = traceId;
    if (body !== undefined) {
      headers['content-type'] = 'application/octet-stream';
      headers['content-length'] = String(body.byteLength);
    }
    const unsigned = new HttpRequest({
      protocol: url.protocol,
      hostname: url.hostname,
      ...(port === undefined ? {} : { port }),
      method,
      path: `${basePath}/@connections/${encodeLabel(connectionId)}`,
      headers,
      ...(body === undefined ? {} : { body }),
    });
    const signed = await signer.sign(unsigned, config.signingDate ? { signingDate: config.signingDate() } : {}) as HttpRequest;
    let response;
    try {
      ({ response } = await handler.handle(signed, { abortSignal: signal }));
    } catch (error) {
      throw new TransportError(classifyError(error), { cause: error });
    }
    const stream = response.body as Readable;
    if (response.statusCode >= 200 && response.statusCode < 300) {
      stream.resume(); // drain, so the keep-alive socket goes back to the pool
      return;
    }
    throw await toFailure(response.statusCode, response.headers, stream);
  };

  return {
    post: (connectionId, body, signal) => request('POST', connectionId, body, signal),
    delete: (connectionId, signal) => request('DELETE', connectionId, undefined, signal),
    destroy: () => handler.destroy(),
  };
};
