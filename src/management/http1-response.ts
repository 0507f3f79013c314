// An incremental HTTP/1.1 response parser for the keep-alive client in http1-pool.ts. It reads
// what the @connections API sends (a status, a few headers, an empty or tiny JSON body) and the
// framings RFC 9112 allows for it: Content-Length, chunked, or read-until-close. It is strict:
// anything malformed is an HttpParseError, and the connection is never reused after one.
import { WsOutboxError } from '../errors.ts';

/** Node's default --max-http-header-size. */
const maxHeadBytes = 16 * 1024;
/** Management API bodies are tiny JSON documents; a megabyte is a broken or hostile peer. */
/** The default ceiling on a response body: @connections answers are tiny; DynamoDB's clients raise it. */
export const defaultMaxBodyBytes = 1024 * 1024;
const maxChunkLineBytes = 1024;

const crlfcrlf = Buffer.from('\r\n\r\n');
const crlf = Buffer.from('\r\n');
const empty = Buffer.alloc(0);
const statusLine = /^HTTP\/1\.([01]) ([1-5]\d\d)(?: [^\r\n\0]*)?$/;
const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// A chunk size, optional whitespace before extensions, extensions without CR, LF or NUL.
const chunkLine = /^([0-9A-Fa-f]{1,8})[ \t]*(?:;[^\r\n\0]*)?$/;
const badValueChars = /[\0\r\n]/;
const digits = /^\d{1,15}$/;

export interface Http1Response {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
  /** Whether the connection may carry another request (HTTP version, Connection header, framing). */
  keepAlive: boolean;
}

export class HttpParseError extends WsOutboxError {
  constructor(message: string) {
    // Node's own parser error code, so callers that know node:http's errors recognise it.
    super('HPE_INVALID_RESPONSE', `invalid HTTP response: ${message}`);
  }
}

/**
 * Bytes received and not yet consumed. A chunk is adopted without a copy when nothing is pending
 * (the usual case: a whole response in one read). Otherwise pieces are gathered into a buffer
 * that doubles, so a peer that sends one byte at a time costs linear time and memory, not
 * quadratic. Views handed out by take() stay valid: consumed bytes are never overwritten.
 */
class ByteQueue {
  #buffer: Buffer = empty;
  #start = 0;
  #end = 0;
  #owned = false;

  get length(): number {
    return this.#end - this.#start;
  }
  get bytes(): Buffer {
    return this.#buffer.subarray(this.#start, this.#end);
  }

  push(chunk: Buffer): void {
    const length = this.length;
    if (length === 0) {
      this.#buffer = chunk;
      this.#start = 0;
      this.#end = chunk.length;
      this.#owned = false;
      return;
    }
    if (!this.#owned || this.#end + chunk.length > this.#buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(256, 2 * (length + chunk.length)));
      this.#buffer.copy(grown, 0, this.#start, this.#end);
      this.#buffer = grown;
      this.#start = 0;
      this.#end = length;
      this.#owned = true;
    }
    chunk.copy(this.#buffer, this.#end);
    this.#end += chunk.length;
  }

  take(n: number): Buffer {
    const view = this.#buffer.subarray(this.#start, this.#start + n);
    this.#start += n;
    return view;
  }
}

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'until-close' | 'done';

const parseHead = (head: string) => {
  const lines = head.split('\r\n');
  const match = statusLine.exec(lines[0] ?? '');
  if (!match) throw new HttpParseError(`bad status line ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  // No prototype: a header named "constructor" or "__proto__" is just a header.
  const headers = Object.create(null) as Record<string, string>;
  for (let i = 1; i < lines.length; i++) readField(lines[i] as string, headers);
  return { http10: match[1] === '0', status: Number(match[2]), headers };
};

/** One "name: value" line into `fields`. Obsolete folding, names with spaces, NUL and bare CR/LF are rejected, as llhttp does. */
const readField = (line: string, fields: Record<string, string>): void => {
  const colon = line.indexOf(':');
  const name = colon > 0 ? line.slice(0, colon) : '';
  if (!token.test(name) || badValueChars.test(line)) throw new HttpParseError(`bad header line ${JSON.stringify(line.slice(0, 80))}`);
  const key = name.toLowerCase();
  const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
  fields[key] = fields[key] === undefined ? value : `${fields[key]}, ${value}`;
};

/** "5" or "5, 5" (a repeated header) is 5; differing or non-numeric values are an error (RFC 9110 8.6). */
const contentLength = (value: string, maxBodyBytes: number): number => {
  const values = value.split(',').map((v) => v.trim());
  const first = values[0] as string;
  if (!digits.test(first) || values.some((v) => v !== first)) throw new HttpParseError(`bad content-length ${JSON.stringify(value)}`);
  const length = Number(first);
  if (length > maxBodyBytes) throw new HttpParseError(`body of ${length} bytes exceeds ${maxBodyBytes}`);
  return length;
};

export class ResponseParser {
  readonly #maxBodyBytes: number;
  #state: State = 'head';
  readonly #pending = new ByteQueue();
  readonly #body = new ByteQueue();
  #status = 0;
  #headers: Record<string, string> = {};
  #keepAlive = true;
  #remaining = 0;
  #headBytes = 0;
  #trailerBytes = 0;
  // How far the search for the end of the head got, so that a head arriving a byte at a time is
  // scanned once, not once per byte.
  #scanned = 0;

  constructor(maxBodyBytes = defaultMaxBodyBytes) {
    this.#maxBodyBytes = maxBodyBytes;
  }

  /** Bytes received after the response ended. The client never pipelines, so any are an error. */
  get leftover(): number {
    return this.#state === 'done' ? this.#pending.length : 0;
  }

  /** Feeds bytes; returns the response once it is complete. Throws HttpParseError. */
  push(chunk: Buffer): Http1Response | undefined {
    this.#pending.push(chunk);
    return this.#run();
  }

  /** The peer closed. Completes a read-until-close body; anything else cut short is an error. */
  end(): Http1Response {
    if (this.#state === 'until-close') return this.#finish(false);
    throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  }

  #run(): Http1Response | undefined {
    for (;;) {
      switch (this.#state) {
        case 'head': {
          const pending = this.#pending.bytes;
          const end = pending.indexOf(crlfcrlf, Math.max(0, this.#scanned - 3));
          if (end < 0) {
            this.#scanned = pending.length;
            if (this.#headBytes + pending.length > maxHeadBytes) throw new HttpParseError(`head exceeds ${maxHeadBytes} bytes`);
            return undefined;
          }
          this.#scanned = 0;
          this.#headBytes += end + 4;
          if (this.#headBytes > maxHeadBytes) throw new HttpParseError(`head exceeds ${maxHeadBytes} bytes`);
          const head = parseHead(pending.toString('latin1', 0, end));
          this.#pending.take(end + 4);
          if (head.status < 200) {
            // 1xx: informational, the real response follows. 101 would switch protocols: never asked for.
            if (head.status === 101) throw new HttpParseError('unexpected 101 Switching Protocols');
            continue;
          }
          this.#begin(head);
          break;
        }
        case 'length':
          if (!this.#takeBody()) return undefined;
          return this.#finish(this.#keepAlive);
        case 'chunk-size': {
          const end = this.#pending.bytes.indexOf(crlf);
          if (end < 0) {
            if (this.#pending.length > maxChunkLineBytes) throw new HttpParseError('chunk size line too long');
            return undefined;
          }
          if (end > maxChunkLineBytes) throw new HttpParseError('chunk size line too long');
          // Chunk extensions (";name=value") are allowed and ignored.
          const line = this.#pending.take(end + 2).toString('latin1', 0, end);
          const size = chunkLine.exec(line)?.[1];
          if (size === undefined) throw new HttpParseError(`bad chunk size ${JSON.stringify(line.slice(0, 40))}`);
          this.#remaining = parseInt(size, 16);
          if (this.#body.length + this.#remaining > this.#maxBodyBytes) throw new HttpParseError(`body exceeds ${this.#maxBodyBytes} bytes`);
          this.#state = this.#remaining === 0 ? 'trailers' : 'chunk-data';
          break;
        }
        case 'chunk-data':
          if (!this.#takeBody()) return undefined;
          this.#state = 'chunk-end';
          break;
        case 'chunk-end': {
          if (this.#pending.length < 2) return undefined;
          const after = this.#pending.take(2);
          if (after[0] !== 13 || after[1] !== 10) throw new HttpParseError('chunk not followed by CRLF');
          this.#state = 'chunk-size';
          break;
        }
        case 'trailers': {
          const end = this.#pending.bytes.indexOf(crlf);
          if (this.#trailerBytes + (end < 0 ? this.#pending.length : end + 2) > maxHeadBytes) throw new HttpParseError(`trailers exceed ${maxHeadBytes} bytes`);
          if (end < 0) return undefined;
          this.#trailerBytes += end + 2;
          const line = this.#pending.take(end + 2).toString('latin1', 0, end);
          if (end === 0) return this.#finish(this.#keepAlive); // the empty line ends the message
          readField(line, Object.create(null) as Record<string, string>); // checked, then ignored
          break;
        }
        case 'until-close': {
          if (this.#pending.length > 0) this.#append(this.#pending.take(this.#pending.length));
          return undefined;
        }
        case 'done':
          return undefined; // what follows stays in #pending: see leftover
      }
    }
  }

  #begin(head: ReturnType<typeof parseHead>): void {
    const { status, headers, http10 } = head;
    this.#status = status;
    this.#headers = headers;
    const connection = (headers.connection ?? '').toLowerCase();
    this.#keepAlive = http10 ? /\bkeep-alive\b/.test(connection) : !/\bclose\b/.test(connection);
    const te = headers['transfer-encoding'];
    if (status === 204 || status === 304) {
      this.#state = 'length';
      this.#remaining = 0;
    } else if (te !== undefined) {
      // RFC 9112 6.1: with both, Transfer-Encoding wins and the connection must not be reused.
      if (headers['content-length'] !== undefined) this.#keepAlive = false;
      // RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 message is faulty; read it, then close.
      if (http10) this.#keepAlive = false;
      if (/(^|,)\s*chunked\s*$/i.test(te)) this.#state = 'chunk-size';
      else {
        this.#state = 'until-close';
        this.#keepAlive = false;
      }
    } else if (headers['content-length'] !== undefined) {
      this.#state = 'length';
      this.#remaining = contentLength(headers['content-length'], this.#maxBodyBytes);
    } else {
      this.#state = 'until-close';
      this.#keepAlive = false;
    }
  }

  /** Moves up to #remaining pending bytes into the body; true once #remaining is 0. */
  #takeBody(): boolean {
    const take = Math.min(this.#remaining, this.#pending.length);
    if (take > 0) this.#append(this.#pending.take(take));
    this.#remaining -= take;
    return this.#remaining === 0;
  }

  #append(bytes: Buffer): void {
    if (this.#body.length + bytes.length > this.#maxBodyBytes) throw new HttpParseError(`body exceeds ${this.#maxBodyBytes} bytes`);
    this.#body.push(bytes);
  }

  #finish(keepAlive: boolean): Http1Response {
    this.#state = 'done';
    return { status: this.#status, headers: this.#headers, body: this.#body.bytes, keepAlive };
  }
}
