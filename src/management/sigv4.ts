import { createHash, createHmac, createSecretKey, hash, type KeyObject } from 'node:crypto';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

// SigV4 for exactly the requests ws-outbox makes (POST and DELETE on @connections/{id}, and
// DynamoDB's JSON POSTs, which add a content type and X-Amz-Target), written by hand for speed. @smithy/signature-v4 is generic: it canonicalizes arbitrary headers
// and query strings, hashes the payload per request and wraps every hash in async classes, which
// measured ~107 µs per request here, against ~10 µs for this (bench/README.md). Everything a
// broadcast shares is computed once: the payload hash (one payload, N recipients; see
// #payloadHash), the signing key (once a day, kept as a KeyObject: an HMAC keyed by a Buffer
// re-imports the key on every call, 22 µs against 3.7 µs). test/framework/unit/sigv4.test.ts checks that the output is
// byte-for-byte what SignatureV4 produces, for random ids, bodies, dates and session tokens.

const algorithm = 'AWS4-HMAC-SHA256';
const emptyHash = createHash('sha256').update('').digest('hex');

/** The SDK's URI escaping (path labels and SigV4 alike): encodeURIComponent plus !'()*. */
export const escapeUri = (value: string): string => encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** 20261127T120000Z. A broadcast signs thousands of requests a second: format once per second. */
let lastSecond = -1;
let lastAmzDate = '';
const amzDate = (date: Date): string => {
  const second = Math.floor(date.getTime() / 1000);
  if (second !== lastSecond) {
    lastAmzDate = date.toISOString().replace(/[-:]|\.\d{3}/g, '');
    lastSecond = second;
  }
  return lastAmzDate;
};

/**
 * The canonical path, as SignatureV4 builds it for every service but S3: empty and "." segments
 * dropped, ".." removing the one before (RFC 3986 dot segments), then the (already escaped) path
 * escaped once more, keeping the slashes. Ids are escaped but "." is not, so the ids "." and ".."
 * are dot segments; only paths that may hold one pay for the split.
 */
export const canonicalPathOf = (path: string): string => {
  let normalized = path;
  if (path.includes('/.') || path.includes('//')) {
    const segments: string[] = [];
    for (const segment of path.split('/')) {
      if (segment === '' || segment === '.') continue;
      if (segment === '..') segments.pop();
      else segments.push(segment);
    }
    normalized = `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${segments.length > 0 && path.endsWith('/') ? '/' : ''}`;
  }
  return escapeUri(normalized).replace(/%2F/g, '/');
};

export interface SignOptions {
  method: 'POST' | 'DELETE' | 'GET';
  /** Default application/octet-stream (@connections); DynamoDB's is application/x-amz-json-1.0. */
  contentType?: string;
  /** X-Amz-Target, signed (DynamoDB's JSON protocol names the operation there). */
  target?: string;
  /** Hash the body every time instead of caching it per payload object (bodies used once). */
  freshBody?: boolean;
  /** host[:port], exactly as sent in the Host header. */
  host: string;
  /** The request path, already escaped once (as sent on the wire). */
  path: string;
  /** POST only. */
  body?: Uint8Array;
  date?: Date;
}

export class ConnectionsSigner {
  readonly #region: string;
  readonly #service: string;
  readonly #credentials: AwsCredentialIdentityProvider;
  readonly #payloadHashes = new WeakMap<Uint8Array, { bytes: Buffer; hash: string }>();
  #signingKey: { cacheKey: string; key: KeyObject } | undefined;

  constructor(options: { region: string; service?: string; credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider }) {
    this.#region = options.region;
    this.#service = options.service ?? 'execute-api';
    const { credentials } = options;
    this.#credentials = typeof credentials === 'function' ? credentials : async () => credentials;
  }

  /** The headers to send: content-*, host, x-amz-* and authorization. */
  async sign(options: SignOptions): Promise<Record<string, string>> {
    const credentials = await this.#credentials();
    const longDate = amzDate(options.date ?? new Date());
    const shortDate = longDate.slice(0, 8);
    const payloadHash = options.body === undefined ? emptyHash : options.freshBody ? hash('sha256', options.body, 'hex') : this.#payloadHash(options.body);
    // Alphabetical order, as SigV4 requires: content-length, content-type, host, x-amz-*.
    const headers: Record<string, string> = {};
    if (options.body !== undefined) {
      headers['content-length'] = String(options.body.byteLength);
      headers['content-type'] = options.contentType ?? 'application/octet-stream';
    }
    headers.host = options.host;
    headers['x-amz-content-sha256'] = payloadHash;
    headers['x-amz-date'] = longDate;
    if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;
    if (options.target !== undefined) headers['x-amz-target'] = options.target;
    const names = Object.keys(headers);
    let canonicalHeaders = '';
    for (const name of names) canonicalHeaders += `${name}:${headers[name]}\n`;
    const signedHeaders = names.join(';');
    const canonicalPath = canonicalPathOf(options.path);
    const canonicalRequest = `${options.method}\n${canonicalPath}\n\n${canonicalHeaders}\n${signedHeaders}\n${payloadHash}`;
    const scope = `${shortDate}/${this.#region}/${this.#service}/aws4_request`;
    const stringToSign = `${algorithm}\n${longDate}\n${scope}\n${hash('sha256', canonicalRequest)}`;
    const signature = createHmac('sha256', this.#key(shortDate, credentials)).update(stringToSign).digest('hex');
    headers.authorization = `${algorithm} Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return headers;
  }

  /**
   * The body's SHA-256, computed once per payload object and contents. The cache is keyed by the
   * object but keeps a copy of the bytes it hashed and serves the hash only while they are
   * equal: a handler that refills a module-level buffer on a warm invocation would otherwise get
   * the old hash (and a 403). The compare is a memcmp: 0.07 µs for 120 bytes, 2.4 µs for 128 KiB,
   * against 0.5 µs and 71 µs for hashing again, which a broadcast would pay per recipient.
   */
  #payloadHash(body: Uint8Array): string {
    const cached = this.#payloadHashes.get(body);
    if (cached?.bytes.equals(body)) return cached.hash;
    const hashed = hash('sha256', body, 'hex');
    this.#payloadHashes.set(body, { bytes: Buffer.from(body), hash: hashed });
    return hashed;
  }

  // The derived key changes only with the day and the credentials.
  #key(shortDate: string, credentials: AwsCredentialIdentity): KeyObject {
    const cacheKey = `${shortDate}\n${credentials.accessKeyId}\n${credentials.secretAccessKey}\n${credentials.sessionToken ?? ''}`;
    if (this.#signingKey?.cacheKey === cacheKey) return this.#signingKey.key;
    let key = createHmac('sha256', `AWS4${credentials.secretAccessKey}`).update(shortDate).digest();
    for (const part of [this.#region, this.#service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
    this.#signingKey = { cacheKey, key: createSecretKey(key) };
    return this.#signingKey.key;
  }
}
