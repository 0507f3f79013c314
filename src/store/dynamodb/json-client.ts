// DynamoDB's JSON protocol (POST /, X-Amz-Target: DynamoDB_20120810.<Operation>) over the same
// parts as the @connections transport: the credentials of credentials.ts, the SigV4 signer of
// sigv4.ts and the keep-alive HTTP/1.1 client of http1-pool.ts. It exists for cold starts: the
// SDK's DynamoDBClient costs a cold `send` ~40 ms of module evaluation at init and ~25 ms of CPU
// in its first command (middleware stack, schema serde, endpoint rules, node:http), which a 256 MB
// function pays seven times over in wall time (bench/README.md, "Cold start").
// Retries follow the SDK's standard strategy: 3 attempts, full-jitter backoff (100 ms base, 500 ms
// for throttling), for throttling errors, 5xx, timeouts and network errors; never after an abort.
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { checkNumber, withDefaults } from '../../options.ts';
import { backoffDelay } from '../../outbox/backoff.ts';
import { defaultCredentials } from '../../management/credentials.ts';
import { partitionOf } from '../../management/partition.ts';
import { Http1Pool } from '../../management/http1-pool.ts';
import { ConnectionsSigner } from '../../management/sigv4.ts';

export interface DynamoJsonClientOptions {
  /** Default AWS_ENDPOINT_URL_DYNAMODB, else AWS_ENDPOINT_URL, else the region's endpoint. */
  endpoint?: string;
  /** Default AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1. */
  region?: string;
  /** Fixed credentials or a provider. Default: the environment's, else the SDK's Node chain. */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** No byte for this long while a request is in flight: a timeout (retried). */
  requestTimeoutMs?: number;
  connectionTimeoutMs?: number;
  /** Attempts per request, the first included. */
  maxAttempts?: number;
  maxSockets?: number;
}

export const dynamoJsonDefaults = {
  // As createDocumentClient's SDK client: a hung socket must not eat the invocation.
  requestTimeoutMs: 3000,
  connectionTimeoutMs: 1000,
  // The SDK's standard retry strategy.
  maxAttempts: 3,
  maxSockets: 50,
};

/** A DynamoDB error answer, shaped like the SDK's service exceptions (name, $metadata, $fault). */
export class DynamoDBServiceError extends Error {
  readonly $metadata: { httpStatusCode: number; requestId?: string; attempts: number };
  readonly $fault: 'client' | 'server';
  constructor(name: string, message: string, metadata: DynamoDBServiceError['$metadata']) {
    super(message);
    this.name = name;
    this.$metadata = metadata;
    this.$fault = metadata.httpStatusCode >= 500 ? 'server' : 'client';
  }
}

// The SDK's throttling error names (@smithy/service-error-classification) that DynamoDB can send.
const throttlingNames = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'RequestThrottled',
  'ThrottledException',
  'RequestThrottledException',
  'TransactionInProgressException',
]);
const transientCodes = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNABORTED', 'HPE_INVALID_RESPONSE']);

const isRetryable = (error: unknown): { retry: boolean; throttled: boolean } => {
  if (error instanceof DynamoDBServiceError) {
    const throttled = throttlingNames.has(error.name) || error.$metadata.httpStatusCode === 429;
    return { retry: throttled || error.$metadata.httpStatusCode >= 500, throttled };
  }
  const e = error as { code?: string; name?: string };
  return { retry: e?.name === 'TimeoutError' || (e?.code !== undefined && transientCodes.has(e.code)), throttled: false };
};

/** The SDK's DynamoDB endpoint for a region (its rule set's common case), honouring FIPS and dual-stack settings. */
export const dynamoEndpoint = (env: NodeJS.ProcessEnv = process.env): string => {
  const override = env.AWS_ENDPOINT_URL_DYNAMODB || env.AWS_ENDPOINT_URL;
  if (override) return override;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
  const { dnsSuffix, dualStackDnsSuffix } = partitionOf(region);
  const fips = env.AWS_USE_FIPS_ENDPOINT === 'true' ? '-fips' : '';
  return env.AWS_USE_DUALSTACK_ENDPOINT === 'true'
    ? `https://dynamodb${fips}.${region}.${dualStackDnsSuffix}`
    : `https://dynamodb${fips}.${region}.${dnsSuffix}`;
};

const abortReason = (signal: AbortSignal): unknown => signal.reason ?? Object.assign(new Error('This operation was aborted'), { name: 'AbortError' });

/** Waits, or rejects with the signal's reason as soon as it aborts. */
const pause = (ms: number, signal: AbortSignal | undefined) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export class DynamoJsonClient {
  readonly endpoint: string;
  readonly #config: typeof dynamoJsonDefaults;
  readonly #pool: Http1Pool;
  readonly #signer: ConnectionsSigner;
  readonly #host: string;
  readonly #path: string;

  constructor(options: DynamoJsonClientOptions = {}) {
    this.#config = withDefaults(dynamoJsonDefaults, {
      requestTimeoutMs: options.requestTimeoutMs,
      connectionTimeoutMs: options.connectionTimeoutMs,
      maxAttempts: options.maxAttempts,
      maxSockets: options.maxSockets,
    });
    checkNumber('DynamoDB maxAttempts', this.#config.maxAttempts, { min: 1, integer: true });
    this.endpoint = options.endpoint || dynamoEndpoint();
    const url = new URL(this.endpoint);
    this.#host = url.host;
    this.#path = url.pathname === '' ? '/' : url.pathname;
    const region = options.region || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1';
    this.#pool = new Http1Pool({
      origin: url.origin,
      maxSockets: this.#config.maxSockets,
      connectTimeoutMs: this.#config.connectionTimeoutMs,
      timeoutMs: this.#config.requestTimeoutMs,
      maxBodyBytes: 32 * 1024 * 1024,
    });
    this.#signer = new ConnectionsSigner({ region, service: 'dynamodb', credentials: options.credentials ?? defaultCredentials() });
  }

  /** Calls one operation with a JSON input in DynamoDB's wire format; resolves with its JSON output. */
  async call<T = Record<string, unknown>>(operation: string, input: unknown, signal?: AbortSignal): Promise<T>;
  /** The same, with a JSON.stringify replacer, and whether the answer holds a binary attribute (B or BS). */
  async call<T = Record<string, unknown>>(
    operation: string,
    input: unknown,
    signal: AbortSignal | undefined,
    json: { replacer: (this: any, key: string, value: unknown) => unknown },
  ): Promise<{ value: T; binary: boolean }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  async call<T>(
    operation: string,
    input: unknown,
    signal?: AbortSignal,
    json?: { replacer: (this: any, key: string, value: unknown) => unknown },
  ): Promise<T | { value: T; binary: boolean }> {
    // eslint-disable-line @typescript-eslint/no-explicit-any
    const body = Buffer.from(JSON.stringify(input, json?.replacer));
    for (let attempt = 1; ; attempt++) {
      try {
        const text = await this.#once(operation, body, attempt, signal);
        const value = (text ? JSON.parse(text) : {}) as T;
        return json ? { value, binary: text.includes('"B":') || text.includes('"BS":') } : value;
      } catch (error) {
        if (signal?.aborted) throw abortReason(signal);
        const { retry, throttled } = isRetryable(error);
        if (!retry || attempt >= this.#config.maxAttempts) throw error;
        await pause(backoffDelay(attempt, throttled, { baseMs: 100, throttledBaseMs: 500, capMs: 20_000 }), signal);
      }
    }
  }

  async #once(operation: string, body: Buffer, attempt: number, signal?: AbortSignal): Promise<string> {
    const headers = await this.#signer.sign({
      method: 'POST',
      host: this.#host,
      path: this.#path,
      body,
      contentType: 'application/x-amz-json-1.0',
      target: `DynamoDB_20120810.${operation}`,
      freshBody: true,
    });
    const response = await this.#pool.request({ method: 'POST', path: this.#path, headers, body, signal });
    const text = response.body.toString('utf8');
    if (response.status === 200) return text;
    let parsed: { __type?: string; message?: string; Message?: string } = {};
    try {
      parsed = text ? (JSON.parse(text) as typeof parsed) : {};
    } catch {
      /* not JSON: keep the status */
    }
    // "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"; the header form may carry ":<uri>".
    const type = (response.headers['x-amzn-errortype'] ?? parsed.__type ?? `Http${response.status}`).split(':')[0]!;
    const name = type.slice(type.lastIndexOf('#') + 1);
    throw new DynamoDBServiceError(name, parsed.message ?? parsed.Message ?? `DynamoDB answered ${response.status}`, {
      httpStatusCode: response.status,
      requestId: response.headers['x-amzn-requestid'],
      attempts: attempt,
    });
  }

  /** Closes the sockets (tests and tools; Lambda never needs it). */
  destroy(): void {
    this.#pool.destroy();
  }
}
