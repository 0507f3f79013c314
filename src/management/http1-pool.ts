// A keep-alive HTTP/1.1 client for small request/response exchanges, written by hand for speed.
// On the bench machine node:http's ClientRequest + Agent + IncomingMessage cost ~110-180 µs of CPU
// per request against ~45-50 µs for the same bytes on a plain socket (bench/README.md, "HTTP
// client"); at 10,000 recipients that is most of a broadcast's CPU. undici is as lean but adds
// ~280 KiB (llhttp as WASM) to every bundle, which costs cold start. What this client does, and
// all it does: one request per socket at a time (no pipelining), a LIFO pool of at most
// `maxSockets` sockets, a FIFO queue beyond that, a connect timeout, an inactivity timeout, abort
// by signal, TLS with session reuse, and idle sockets retired by age: closed by an unref'd timer,
// and checked by the clock when taken (so a Lambda thawed after minutes does not write into
// sockets the server closed). A socket that receives bytes nobody asked for is never reused.
import diagnosticsChannel from 'node:diagnostics_channel';
import net from 'node:net';
import tls from 'node:tls';
import { checkNumber, withDefaults } from '../options.ts';
import { defaultMaxBodyBytes, type HttpParseError, ResponseParser, type Http1Response } from './http1-response.ts';

export type { Http1Response } from './http1-response.ts';

export interface Http1PoolOptions {
  /** `http://host:port` or `https://host:port`; any path is ignored. */
  origin: string;
  maxSockets?: number;
  connectTimeoutMs?: number;
  /** No byte in either direction for this long while a request is in flight: TimeoutError. */
  timeoutMs?: number;
  /** An idle socket is closed once idle this long. A server's Keep-Alive hint lowers it. */
  idleMs?: number;
  /** Extra TLS options (a test CA, for instance). */
  tls?: tls.ConnectionOptions;
  /** A longer response body is an HPE_INVALID_RESPONSE error (DynamoDB's answers reach 16 MB). */
  maxBodyBytes?: number;
}

export interface Http1Request {
  method: string;
  /** Already escaped, starting with "/". */
  path: string;
  /** Sent in this order. Host and Content-Length are added when absent. Values must be visible
   * ASCII: a CR or LF would split the request. */
  headers: Record<string, string>;
  body?: Uint8Array;
  signal?: AbortSignal;
}

/**
 * Announces each request before it is encoded, in the caller's async context, as node:http does on
 * 'http.client.request.created': subscribers may add headers. The local gateway stamps the
 * invocation id this way to catch late sends. Message: `{ request: Http1Request }`.
 */
export const requestCreatedChannel = diagnosticsChannel.channel('ws-outbox:http1.request.created');

const defaults = {
  maxSockets: 50,
  connectTimeoutMs: 1_000,
  timeoutMs: 3_000,
  // undici's default. Servers announce theirs in Keep-Alive: timeout=N, which is honoured.
  idleMs: 4_000,
  maxBodyBytes: defaultMaxBodyBytes,
};

const visibleAscii = /^[\t\x20-\x7e]*$/;
const pathChars = /^\/[\x21-\x7e]*$/;
const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const errorWithCode = (message: string, code: string, name = 'Error') => Object.assign(new Error(message), { code, name });
/** The signal's reason when it is an error (DOMException included, from any realm), else an AbortError. */
const abortError = (signal: AbortSignal): Error => {
  const reason = signal.reason as unknown;
  if (typeof reason === 'object' && reason !== null && 'name' in reason && 'message' in reason) return reason as Error;
  return errorWithCode('This operation was aborted', 'ABORT_ERR', 'AbortError');
};

interface Pending {
  head: Buffer;
  /** The caller asked for Connection: close: the socket is not reused. */
  close: boolean;
  signal: AbortSignal | undefined;
  resolve: (response: Http1Response) => void;
  reject: (error: Error) => void;
  onAbort?: () => void;
}

/** One socket; carries one request at a time. */
class Connection {
  readonly socket: net.Socket;
  parser = new ResponseParser();
  current: Pending | undefined;
  idleSince = 0;
  idleMs: number;
  /** Whether the socket keeps the event loop alive (a new socket does). */
  refed = true;
  constructor(socket: net.Socket, idleMs: number) {
    this.socket = socket;
    this.idleMs = idleMs;
  }
}

/** Serializes a request head and body into one buffer: one write, one syscall. */
// HEAD and CONNECT answers are framed differently (no body, a tunnel); nothing here sends them.
const unsupportedMethods = new Set(['HEAD', 'CONNECT']);
const digits = /^\d+$/;

/**
 * Serializes a request head and body into one buffer: one write, one syscall. Refuses, before
 * anything is sent, whatever could split or misframe the request.
 */
const encodeRequest = (host: string, request: Http1Request): { bytes: Buffer; close: boolean } => {
  const { method, path, headers, body } = request;
  if (!token.test(method) || unsupportedMethods.has(method.toUpperCase())) throw new TypeError(`unsupported request method ${JSON.stringify(method)}`);
  if (!pathChars.test(path)) throw new TypeError(`invalid request path ${JSON.stringify(path)}`);
  const length = body?.length ?? 0;
  let head = `${method} ${path} HTTP/1.1\r\n`;
  let hasHost = false;
  let declaredLength: string | undefined;
  let close = false;
  for (const name of Object.keys(headers)) {
    const value = headers[name] as string;
    if (!token.test(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
    if (!visibleAscii.test(value)) throw new TypeError(`invalid value for header ${name}: only visible ASCII is allowed`);
    const lower = name.toLowerCase();
    if (lower === 'host') hasHost = true;
    else if (lower === 'content-length') {
      if (declaredLength !== undefined) throw new TypeError('content-length given twice');
      if (!digits.test(value) || Number(value) !== length) throw new TypeError(`content-length header says ${value}, body has ${length} bytes`);
      declaredLength = value;
    } else if (lower === 'transfer-encoding') throw new TypeError('transfer-encoding is not supported: bodies are sent whole, with a content-length');
    else if (lower === 'connection' && /\bclose\b/i.test(value)) close = true;
    head += `${name}: ${value}\r\n`;
  }
  if (!hasHost) head += `host: ${host}\r\n`;
  // A POST without a body still says so; a DELETE without one sends nothing, as node:http does.
  if (declaredLength === undefined && (length > 0 || method === 'POST' || method === 'PUT')) head += `content-length: ${length}\r\n`;
  head += '\r\n';
  const bytes = Buffer.allocUnsafe(head.length + length);
  bytes.write(head, 0, 'latin1'); // all ASCII, checked above: one byte per character
  if (body) bytes.set(body, head.length);
  return { bytes, close };
};

export class Http1Pool {
  readonly #config: Required<Omit<Http1PoolOptions, 'tls'>> & { tls?: tls.ConnectionOptions };
  readonly #https: boolean;
  readonly #hostname: string;
  readonly #port: number;
  readonly #host: string;
  #session: Buffer | undefined;
  readonly #idle: Connection[] = [];
  readonly #queue: Pending[] = [];
  readonly #all = new Set<Connection>();
  #destroyed = false;
  // One timer for the pool closes idle sockets as they reach their age, armed for the earliest.
  #sweepTimer: NodeJS.Timeout | undefined;
  #sweepAt = Infinity;

  constructor(options: Http1PoolOptions) {
    this.#config = withDefaults(defaults, options);
    checkNumber('maxSockets', this.#config.maxSockets, { min: 1, integer: true });
    checkNumber('connectTimeoutMs', this.#config.connectTimeoutMs, { min: 1 });
    checkNumber('timeoutMs', this.#config.timeoutMs, { min: 1 });
    checkNumber('idleMs', this.#config.idleMs);
    checkNumber('maxBodyBytes', this.#config.maxBodyBytes, { min: 1, integer: true });
    const url = new URL(options.origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`unsupported protocol ${url.protocol}`);
    this.#https = url.protocol === 'https:';
    this.#hostname = url.hostname.replace(/^\[|\]$/g, ''); // [::1] -> ::1
    this.#port = url.port ? Number(url.port) : this.#https ? 443 : 80;
    this.#host = url.host; // with a non-default port, as Node and the SDK send it
  }

  /** Open sockets, in use or idle. */
  get sockets(): number {
    return this.#all.size;
  }

  request(request: Http1Request): Promise<Http1Response> {
    return new Promise<Http1Response>((resolve, reject) => {
      if (this.#destroyed) return reject(errorWithCode('the pool was destroyed', 'ERR_POOL_DESTROYED'));
      const signal = request.signal;
      if (signal?.aborted) return reject(abortError(signal));
      if (requestCreatedChannel.hasSubscribers) requestCreatedChannel.publish({ request });
      const { bytes, close } = encodeRequest(this.#host, request);
      const pending: Pending = { head: bytes, close, signal, resolve, reject };
      const now = Date.now();
      const connection = this.#takeIdle(now);
      if (connection && connection.idleSince === now) return this.#dispatch(connection, pending);
      // Idle since an earlier millisecond: bytes may have reached it since the event loop last
      // read it. The request waits in the queue while the socket is checked.
      if (connection) this.#check(connection);
      else if (this.#all.size < this.#config.maxSockets) return this.#dispatch(this.#connect(), pending);
      // Queued: an abort while waiting removes it, so a dead request never takes a socket.
      if (signal) {
        pending.onAbort = () => {
          const at = this.#queue.indexOf(pending);
          if (at >= 0) this.#queue.splice(at, 1);
          reject(abortError(signal));
        };
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.#queue.push(pending);
    });
  }

  /** Closes every socket; requests in flight or queued fail. */
  destroy(): void {
    this.#destroyed = true;
    clearTimeout(this.#sweepTimer);
    for (const pending of this.#queue.splice(0)) this.#settle(pending, errorWithCode('the pool was destroyed', 'ERR_POOL_DESTROYED'));
    this.#idle.length = 0;
    for (const connection of this.#all) connection.socket.destroy();
  }

  #takeIdle(now = Date.now()): Connection | undefined {
    for (;;) {
      const connection = this.#idle.pop(); // LIFO: the warmest socket, and idle ones age out
      if (!connection) return undefined;
      const { socket } = connection;
      // A FIN may have arrived since the socket was released (server idle timeout): not reusable.
      if (!socket.destroyed && !socket.readableEnded && socket.writable && now - connection.idleSince < connection.idleMs) return connection;
      connection.socket.destroy();
    }
  }

  /**
   * Bytes that reach an idle socket are read by the event loop, and then the socket is destroyed
   * (#onData). But a process that was busy, or frozen by Lambda between invocations, may not have
   * read them yet: written into, the socket would hand them to the new request as its answer.
   * So a socket idle since an earlier millisecond is handed out only after the loop has polled
   * (two turns: the first check phase may come before the next poll); then it takes the oldest
   * queued request, or goes back to the idle list unchanged. If bytes were there, it is gone by
   * then, and 'close' gives the queued request another socket (#next). Bytes still on the wire
   * when a request is written stay indistinguishable from its answer, as with node:http.
   */
  #check(connection: Connection): void {
    setImmediate(() =>
      setImmediate(() => {
        if (connection.socket.destroyed) return; // also when the pool was destroyed
        if (this.#queue.length > 0) this.#release(connection);
        else this.#toIdle(connection);
      }),
    );
  }

  #connect(): Connection {
    const { connectTimeoutMs, timeoutMs, idleMs } = this.#config;
    const socket = this.#https
      ? tls.connect({
          host: this.#hostname,
          port: this.#port,
          ALPNProtocols: ['http/1.1'],
          session: this.#session,
          ...(net.isIP(this.#hostname) ? {} : { servername: this.#hostname }),
          ...this.#config.tls,
        })
      : net.connect({ host: this.#hostname, port: this.#port });
    socket.setNoDelay(true);
    const connection = new Connection(socket, idleMs);
    this.#all.add(connection);

    const connectTimer = setTimeout(() => {
      socket.destroy(errorWithCode(`no connection within ${connectTimeoutMs} ms`, 'ETIMEDOUT', 'TimeoutError'));
    }, connectTimeoutMs);
    socket.once(this.#https ? 'secureConnect' : 'connect', () => {
      clearTimeout(connectTimer);
      // Inactivity while a request is in flight: the request fails. While idle: the socket closes.
      socket.setTimeout(timeoutMs);
    });
    if (this.#https)
      socket.on('session', (session: Buffer) => {
        this.#session = session;
      });

    socket.on('data', (chunk: Buffer) => this.#onData(connection, chunk));
    socket.on('timeout', () => {
      // Idle sockets are closed by the sweep, at their own age.
      if (connection.current) socket.destroy(errorWithCode(`no answer within ${timeoutMs} ms`, 'ETIMEDOUT', 'TimeoutError'));
    });
    socket.on('end', () => {
      const pending = connection.current;
      if (pending) {
        try {
          const response = connection.parser.end();
          connection.current = undefined;
          this.#settle(pending, undefined, response);
        } catch (error) {
          connection.current = undefined;
          this.#settle(pending, error as Error);
        }
      }
      socket.destroy();
    });
    socket.on('error', (error: Error) => {
      const pending = connection.current;
      connection.current = undefined;
      if (pending) this.#settle(pending, error);
    });
    socket.on('close', () => {
      clearTimeout(connectTimer);
      const pending = connection.current;
      connection.current = undefined;
      if (pending) this.#settle(pending, errorWithCode('socket hang up', 'ECONNRESET'));
      this.#all.delete(connection);
      const at = this.#idle.indexOf(connection);
      if (at >= 0) this.#idle.splice(at, 1);
      this.#unrefWhenIdle();
      this.#next();
    });
    return connection;
  }

  #dispatch(connection: Connection, pending: Pending): void {
    if (pending.onAbort) pending.signal?.removeEventListener('abort', pending.onAbort);
    connection.current = pending;
    connection.parser = new ResponseParser(this.#config.maxBodyBytes);
    const signal = pending.signal;
    // Never aborted here: request() refuses an aborted signal, and an abort while queued leaves the queue.
    if (signal) {
      // An abort in flight destroys the socket: its answer, if any, belongs to no one.
      pending.onAbort = () => connection.socket.destroy(abortError(signal));
      signal.addEventListener('abort', pending.onAbort, { once: true });
    }
    if (!connection.refed) {
      connection.socket.ref();
      connection.refed = true;
    }
    connection.socket.write(pending.head);
  }

  #onData(connection: Connection, chunk: Buffer): void {
    const pending = connection.current;
    if (!pending) {
      // Bytes nobody asked for (a late answer, a 408 before closing): this socket can't be trusted.
      connection.socket.destroy();
      return;
    }
    let response: Http1Response | undefined;
    try {
      response = connection.parser.push(chunk);
    } catch (error) {
      connection.socket.destroy(error as HttpParseError);
      return;
    }
    if (!response) return;
    connection.current = undefined;
    if (response.keepAlive && !pending.close && connection.parser.leftover === 0) {
      const hint = /timeout=(\d+)/i.exec(response.headers['keep-alive'] ?? '');
      // Leave a second's margin under the server's own idle timeout.
      if (hint) connection.idleMs = Math.min(connection.idleMs, Math.max(0, Number(hint[1]) * 1000 - 1000));
      this.#settle(pending, undefined, response);
      this.#release(connection);
    } else {
      this.#settle(pending, undefined, response);
      connection.socket.destroy();
    }
  }

  #release(connection: Connection): void {
    if (this.#destroyed) {
      connection.socket.destroy();
      return;
    }
    const next = this.#queue.shift();
    if (next) return this.#dispatch(connection, next);
    connection.idleSince = Date.now();
    this.#toIdle(connection);
    this.#unrefWhenIdle();
  }

  // An idle pool never keeps a process alive: once no socket is busy, none is ref'd. Not per
  // socket as it goes idle: in a broadcast a released socket is taken again at once, and a
  // ref()/unref() pair per request was ~4 % of the CPU of a message (bench/README.md).
  #unrefWhenIdle(): void {
    if (this.#idle.length !== this.#all.size) return;
    for (const idle of this.#idle) {
      if (idle.refed) {
        idle.socket.unref();
        idle.refed = false;
      }
    }
  }

  #toIdle(connection: Connection): void {
    this.#idle.push(connection);
    const deadline = connection.idleSince + connection.idleMs;
    if (deadline < this.#sweepAt) this.#armSweep(deadline);
  }

  #armSweep(at: number): void {
    clearTimeout(this.#sweepTimer);
    this.#sweepAt = at;
    // Unref'd: like the idle sockets, it never keeps a process alive.
    this.#sweepTimer = setTimeout(this.#sweep, Math.max(0, at - Date.now())).unref();
  }

  /**
   * Closes the idle sockets that reached their age, before the server's own idle timeout does
   * (a FIN racing a request costs that request), and re-arms for the youngest. In a busy pool
   * sockets come back with a fresh idleSince, so it fires about once per idleMs and closes none.
   */
  readonly #sweep = (): void => {
    this.#sweepTimer = undefined;
    this.#sweepAt = Infinity;
    const now = Date.now();
    let next = Infinity;
    for (const connection of this.#idle) {
      const deadline = connection.idleSince + connection.idleMs;
      if (deadline <= now)
        connection.socket.destroy(); // leaves #idle on 'close'
      else if (deadline < next) next = deadline;
    }
    if (next < Infinity) this.#armSweep(next);
  };

  /** A socket closed: start a new one for a queued request, if any. */
  #next(): void {
    if (this.#destroyed || this.#queue.length === 0 || this.#all.size >= this.#config.maxSockets) return;
    const connection = this.#takeIdle();
    if (connection) return this.#check(connection); // it takes the queue's head once checked
    const next = this.#queue.shift();
    if (next) this.#dispatch(this.#connect(), next);
  }

  #settle(pending: Pending, error: Error | undefined, response?: Http1Response): void {
    if (pending.onAbort) pending.signal?.removeEventListener('abort', pending.onAbort);
    if (error) pending.reject(error);
    else pending.resolve(response as Http1Response);
  }
}
