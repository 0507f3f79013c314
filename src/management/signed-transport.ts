// A lean PostToConnection / DeleteConnection path, built from the SDK's own parts: its credential
// chain and its NodeHttpHandler, with a SigV4 signer specialised for these two requests
// (sigv4.ts: ~3.5x cheaper than SignatureV4, proven byte-identical by test). It skips the per-command
// middleware stack (endpoint rules, schema serde, user agent, retry bookkeeping, error
// deserializer), which profiling showed is most of the SDK's CPU per message; see bench/README.md.
// test/unit/signed-transport.test.ts proves that it sends the same method, path, body and
// signature as PostToConnectionCommand and classifies failures the same way.
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { classifyError, kindOfStatus } from './classify.ts';
import { ConnectionsSigner, escapeUri } from './sigv4.ts';
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

  // Plain node:http(s) on a keep-alive agent. The engine bounds every request with its own
  // AbortSignal (timeout and deadline), so NodeHttpHandler's timers add nothing but cost.
  const agent = new (https_ ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: config.maxSockets, scheduling: 'lifo' });
  const transport = https_ ? https : http;
  // defaultProvider() memoizes, and refreshes temporary credentials shortly before they expire.
  const signer = new ConnectionsSigner({ credentials: config.credentials ?? defaultProvider(), region: config.region });

  const request = async (method: 'POST' | 'DELETE', connectionId: string, body: Uint8Array | undefined, signal: AbortSignal) => {
    const path = `${basePath}/@connections/${escapeUri(connectionId)}`;
    const headers = await signer.sign({ method, host, path, body, date: config.signingDate?.() });
    // X-Ray propagation, as the SDK's recursion-detection middleware does it from the environment
    // (unsigned header). Read per request: the runtime sets it per invocation.
    const traceId = process.env._X_AMZN_TRACE_ID;
    if (traceId && process.env.AWS_LAMBDA_FUNCTION_NAME) headers['X-Amzn-Trace-Id'] = traceId;
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      // `timeout` is the socket's inactivity timer: for a request this small (one write, one
      // short answer) it bounds connecting and waiting alike, with no timer of our own per request.
      const req = transport.request({ agent, hostname: url.hostname, port, method, path, headers, signal, timeout: config.requestTimeoutMs }, resolve);
      let timedOut = false;
      req.on('error', (error) => reject(new TransportError(classifyError(error, timedOut || signal.aborted), { cause: error })));
      req.on('timeout', () => {
        timedOut = true;
        req.destroy(new Error(`no answer within ${config.requestTimeoutMs} ms`));
      });
      req.end(body);
    });
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) {
      response.resume(); // drain, so the keep-alive socket goes back to the pool
      return;
    }
    throw await toFailure(status, response.headers as Record<string, string>, response);
  };

  return {
    post: (connectionId, body, signal) => request('POST', connectionId, body, signal),
    delete: (connectionId, signal) => request('DELETE', connectionId, undefined, signal),
    destroy: () => agent.destroy(),
  };
};
