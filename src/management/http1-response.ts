// An incremental HTTP/1.1 response parser for the keep-alive client in http1-pool.ts. It reads
// what the @connections API sends (a status, a few headers, an empty or tiny JSON body) and the
// framings RFC 9112 allows for it: Content-Length, chunked, or read-until-close. It is strict:
// anything malformed is an HttpParseError, and the connection is never reused after one.

/** Node's default --max-http-header-size. */
const maxHeadBytes = 16 * 1024;
/** Management API bodies are tiny JSON documents; a megabyte is a broken or hostile peer. */
const maxBodyBytes = 1024 * 1024;
const maxChunkLineBytes = 1024;

const crlfcrlf = Buffer.from('\r\n\r\n');
const crlf = Buffer.from('\r\n');
const empty = Buffer.alloc(0);
const statusLine = /^HTTP\/1\.([01]) (\d{3})(?: [^\r\n]*)?$/;
const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const hexSize = /^[0-9A-Fa-f]{1,8}$/;
const digits = /^\d{1,15}$/;

export interface Http1Response {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
  /** Whether the connection may carry another request (HTTP version, Connection header, framing). */
  keepAlive: boolean;
}

export class HttpParseError extends Error {
  readonly code = 'HPE_INVALID_RESPONSE';
  constructor(message: string) {
    super(`invalid HTTP response: ${message}`);
    this.name = 'HttpParseError';
  }
}

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'until-close' | 'done';

const parseHead = (head: string) => {
  const lines = head.split('\r\n');
  const match = statusLine.exec(lines[0] ?? '');
  if (!match) throw new HttpParseError(`bad status line ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    // Obsolete line folding and header names with spaces are rejected, as llhttp does.
    if (!token.test(name)) throw new HttpParseError(`bad header line ${JSON.stringify(line.slice(0, 80))}`);
    const key = name.toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
  }
  return { http10: match[1] === '0', status: Number(match[2]), headers };
};

/** "5" or "5, 5" (a repeated header) is 5; differing or non-numeric values are an error (RFC 9110 8.6). */
const contentLength = (value: string): number => {
  const values = value.split(',').map((v) => v.trim());
  const first = values[0] as string;
  if (!digits.test(first) || values.some((v) => v !== first)) throw new HttpParseError(`bad content-length ${JSON.stringify(value)}`);
  const length = Number(first);
  if (length > maxBodyBytes) throw new HttpParseError(`body of ${length} bytes exceeds ${maxBodyBytes}`);
  return length;
};

export class ResponseParser {
  #state: State = 'head';
  #pending: Buffer = empty;
  #status = 0;
  #headers: Record<string, string> = {};
  #keepAlive = true;
  #remaining = 0;
  #body: Buffer[] = [];
  #bodyBytes = 0;
  #headBytes = 0;

  /** Bytes received after the response ended. The client never pipelines, so any are an error. */
  get leftover(): number { return this.#state === 'done' ? this.#pending.length : 0; }

  /** Feeds bytes; returns the response once it is complete. Throws HttpParseError. */
  push(chunk: Buffer): Http1Response | undefined {
    this.#pending = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
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
          const end = this.#pending.indexOf(crlfcrlf);
          if (end < 0) {
            if (this.#headBytes + this.#pending.length > maxHeadBytes) throw new HttpParseError(`head exceeds ${maxHeadBytes} bytes`);
            return undefined;
          }
          this.#headBytes += end + 4;
          if (this.#headBytes > maxHeadBytes) throw new HttpParseError(`head exceeds ${maxHeadBytes} bytes`);
          const head = parseHead(this.#pending.toString('latin1', 0, end));
          this.#pending = this.#pending.subarray(end + 4);
          if (head.status < 200) {
            // 1xx: informational, the real response follows. 101 would switch protocols: never asked for.
            if (head.status === 101) throw new HttpParseError('unexpected 101 Switching Protocols');
            continue;
          }
          this.#begin(head);
          break;
        }
        case 'length': {
          const take = Math.min(this.#remaining, this.#pending.length);
          if (take > 0) this.#append(this.#pending.subarray(0, take));
          this.#pending = this.#pending.subarray(take);
          this.#remaining -= take;
          if (this.#remaining > 0) return undefined;
          return this.#finish(this.#keepAlive);
        }
        case 'chunk-size': {
          const end = this.#pending.indexOf(crlf);
          if (end < 0) {
            if (this.#pending.length > maxChunkLineBytes) throw new HttpParseError('chunk size line too long');
            return undefined;
          }
          // Chunk extensions (";name=value") are allowed and ignored.
          const line = this.#pending.toString('latin1', 0, end);
          const size = (line.split(';')[0] as string).trim();
          if (!hexSize.test(size)) throw new HttpParseError(`bad chunk size ${JSON.stringify(line.slice(0, 40))}`);
          this.#pending = this.#pending.subarray(end + 2);
          this.#remaining = parseInt(size, 16);
          if (this.#bodyBytes + this.#remaining > maxBodyBytes) throw new HttpParseError(`body exceeds ${maxBodyBytes} bytes`);
          this.#state = this.#remaining === 0 ? 'trailers' : 'chunk-data';
          break;
        }
        case 'chunk-data': {
          const take = Math.min(this.#remaining, this.#pending.length);
          if (take > 0) this.#append(this.#pending.subarray(0, take));
          this.#pending = this.#pending.subarray(take);
          this.#remaining -= take;
          if (this.#remaining > 0) return undefined;
          this.#state = 'chunk-end';
          break;
        }
        case 'chunk-end': {
          if (this.#pending.length < 2) return undefined;
          if (this.#pending[0] !== 13 || this.#pending[1] !== 10) throw new HttpParseError('chunk not followed by CRLF');
          this.#pending = this.#pending.subarray(2);
          this.#state = 'chunk-size';
          break;
        }
        case 'trailers': {
          const end = this.#pending.indexOf(crlf);
          if (end < 0) {
            if (this.#pending.length > maxHeadBytes) throw new HttpParseError('trailers too long');
            return undefined;
          }
          this.#pending = this.#pending.subarray(end + 2);
          if (end === 0) return this.#finish(this.#keepAlive); // the empty line ends the message
          break; // a trailer field: ignored
        }
        case 'until-close': {
          if (this.#pending.length > 0) this.#append(this.#pending);
          this.#pending = empty;
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
      if (/(^|,)\s*chunked\s*$/i.test(te)) this.#state = 'chunk-size';
      else { this.#state = 'until-close'; this.#keepAlive = false; }
    } else if (headers['content-length'] !== undefined) {
      this.#state = 'length';
      this.#remaining = contentLength(headers['content-length']);
    } else {
      this.#state = 'until-close';
      this.#keepAlive = false;
    }
  }

  #append(bytes: Buffer): void {
    this.#bodyBytes += bytes.length;
    if (this.#bodyBytes > maxBodyBytes) throw new HttpParseError(`body exceeds ${maxBodyBytes} bytes`);
    this.#body.push(bytes);
  }

  #finish(keepAlive: boolean): Http1Response {
    this.#state = 'done';
    const body = this.#body.length === 0 ? empty : this.#body.length === 1 ? this.#body[0] as Buffer : Buffer.concat(this.#body);
    return { status: this.#status, headers: this.#headers, body, keepAlive };
  }
}
