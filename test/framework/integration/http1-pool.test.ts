// The keep-alive client behind the signed transport, against real loopback servers: node:http for
// well-behaved peers, raw TCP for misbehaving ones, and TLS with a test certificate
// (test/fixtures/tls: self-signed for localhost and 127.0.0.1, valid for 100 years).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Http1Pool, requestCreatedChannel, type Http1PoolOptions, type Http1Request } from '../../../src/management/http1-pool.ts';

const tlsDir = new URL('../../fixtures/tls/', import.meta.url);
const cert = readFileSync(new URL('cert.pem', tlsDir));
const key = readFileSync(new URL('key.pem', tlsDir));

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const listen = async <S extends net.Server>(server: S): Promise<{ server: S; port: number }> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise((resolve) => {
        (server as unknown as http.Server).closeAllConnections?.();
        server.close(resolve);
      }),
  );
  return { server, port: (server.address() as AddressInfo).port };
};

/** An echo server that counts the TCP connections it accepted. */
const echoServer = async (
  options: { keepAliveTimeout?: number; handle?: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => boolean } = {},
) => {
  const stats = { connections: 0, requests: 0, inFlight: 0, peakInFlight: 0 };
  const server = http.createServer((req, res) => {
    stats.requests++;
    stats.inFlight++;
    stats.peakInFlight = Math.max(stats.peakInFlight, stats.inFlight);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      if (options.handle?.(req, res, body)) return;
      setTimeout(() => {
        stats.inFlight--;
        const text = JSON.stringify({ method: req.method, url: req.url, body, headers: req.headers });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      }, 2);
    });
  });
  server.keepAliveTimeout = options.keepAliveTimeout ?? 5_000;
  server.on('connection', () => {
    stats.connections++;
  });
  const { port } = await listen(server);
  return { server, port, stats, origin: `http://127.0.0.1:${port}` };
};

/** A TCP server that answers each connection with `script`. */
const rawServer = async (script: (socket: net.Socket) => void) => {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    script(socket);
  });
  const { port } = await listen(server);
  // Runs before the server's close (closers run in reverse), which waits for open sockets.
  closers.push(() => {
    for (const s of sockets) s.destroy();
  });
  return { port, origin: `http://127.0.0.1:${port}`, sockets };
};

const pool = (options: Http1PoolOptions) => {
  const p = new Http1Pool(options);
  closers.push(() => p.destroy());
  return p;
};

const post = (p: Http1Pool, path: string, body = 'hello', signal?: AbortSignal) =>
  p.request({ method: 'POST', path, headers: { 'content-type': 'text/plain' }, body: Buffer.from(body), ...(signal ? { signal } : {}) });

/** Waits (up to a second) for a condition that follows an event a few ticks later. */
const until = async (condition: () => boolean) => {
  for (const started = Date.now(); !condition(); await new Promise((r) => setTimeout(r, 5))) {
    if (Date.now() - started > 1_000) throw new Error(`still false after 1 s: ${condition.toString()}`);
  }
};

const json = (body: Buffer) => JSON.parse(body.toString()) as { method: string; url: string; body: string; headers: Record<string, string> };

describe('a well-behaved server', () => {
  it('sends method, path, Host, length and body; 300 requests over at most maxSockets sockets', async () => {
    const echo = await echoServer();
    const p = pool({ origin: echo.origin, maxSockets: 4 });
    const responses = await Promise.all(Array.from({ length: 300 }, (_, i) => post(p, `/prod/@connections/id-${i}`, `body-${i}`)));
    responses.forEach((response, i) => {
      expect(response.status).toBe(200);
      const echoed = json(response.body);
      expect(echoed).toMatchObject({ method: 'POST', url: `/prod/@connections/id-${i}`, body: `body-${i}` });
      expect(echoed.headers).toMatchObject({ host: `127.0.0.1:${echo.port}`, 'content-length': String(`body-${i}`.length), 'content-type': 'text/plain' });
    });
    expect(echo.stats.connections).toBe(4);
    expect(echo.stats.peakInFlight).toBeLessThanOrEqual(4);
    expect(p.sockets).toBe(4);
  });

  it('reuses one socket for sequential requests; a DELETE without a body sends no length', async () => {
    const echo = await echoServer();
    const p = pool({ origin: echo.origin });
    for (let i = 0; i < 5; i++) expect((await post(p, '/a')).status).toBe(200);
    const deleted = json((await p.request({ method: 'DELETE', path: '/a', headers: {} })).body);
    expect(deleted.method).toBe('DELETE');
    expect(deleted.headers['content-length']).toBeUndefined();
    expect(echo.stats.connections).toBe(1);
  });

  it('a socket the server closed while idle is replaced, without failing a request', async () => {
    const echo = await echoServer({ keepAliveTimeout: 30 });
    const p = pool({ origin: echo.origin });
    expect((await post(p, '/a')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 150)); // the server closes the idle socket
    expect((await post(p, '/b')).status).toBe(200);
    expect(echo.stats.connections).toBe(2);
  });

  it('an idle socket older than idleMs is not reused (a Lambda thawed after a pause)', async () => {
    const echo = await echoServer();
    const p = pool({ origin: echo.origin, idleMs: 50 });
    await post(p, '/a');
    await post(p, '/a');
    expect(echo.stats.connections).toBe(1);
    await new Promise((r) => setTimeout(r, 80));
    await post(p, '/a');
    expect(echo.stats.connections).toBe(2);
  });

  it('an idle socket is closed by the client once idleMs have passed, without a request to notice', async () => {
    const echo = await echoServer({ keepAliveTimeout: 10_000 });
    const closed = new Promise<number>((resolve) => echo.server.once('connection', (socket) => socket.once('close', () => resolve(Date.now()))));
    const p = pool({ origin: echo.origin, idleMs: 100 });
    await post(p, '/a');
    const idleFrom = Date.now();
    const closedAfter = (await closed) - idleFrom;
    expect(closedAfter).toBeGreaterThanOrEqual(90);
    expect(closedAfter).toBeLessThan(1_000); // not at the inactivity timeout (timeoutMs, 3 s)
    await until(() => p.sockets === 0);
  });

  it("an idle socket is closed a second before the server's announced Keep-Alive timeout", async () => {
    const echo = await echoServer({ keepAliveTimeout: 2_000 }); // "Keep-Alive: timeout=2"
    // Ended (read the client's FIN) before closing: the client closed it, not the server's timeout.
    const closed = new Promise<{ at: number; byClient: boolean }>((resolve) =>
      echo.server.once('connection', (socket) => socket.once('close', () => resolve({ at: Date.now(), byClient: socket.readableEnded }))),
    );
    const p = pool({ origin: echo.origin });
    await post(p, '/a');
    const idleFrom = Date.now();
    const { at, byClient } = await closed;
    expect(byClient).toBe(true);
    expect(at - idleFrom).toBeGreaterThanOrEqual(900);
    expect(at - idleFrom).toBeLessThan(1_900);
  });

  it('idle sockets and their timer never keep a process alive', async () => {
    const echo = await echoServer({ keepAliveTimeout: 30_000 });
    const script = `import { Http1Pool } from ${JSON.stringify(new URL('../../../src/management/http1-pool.ts', import.meta.url).href)};
      const p = new Http1Pool({ origin: ${JSON.stringify(echo.origin)}, idleMs: 20_000 });
      console.log((await p.request({ method: 'POST', path: '/a', headers: {}, body: Buffer.from('x') })).status);`;
    // Killed after 10 s: an exit code of 0 means it ended on its own, long before idleMs.
    const child = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
    expect({ stdout: child.stdout.trim(), stderr: child.stderr }).toEqual({ stdout: '200', stderr: '' });
  });

  it("sockets stay ref'd while any is busy, and none once all are idle: after a burst, and when the last busy one closes", async () => {
    // The last answer to arrive closes its socket (Connection: close, 150 ms late), while the
    // others went idle meanwhile: the process must still end on its own.
    const echo = await echoServer({
      keepAliveTimeout: 30_000,
      handle: (req, res) => {
        if (req.url !== '/late-close') return false;
        setTimeout(() => res.writeHead(200, { connection: 'close', 'content-length': 2 }).end('ok'), 150);
        return true;
      },
    });
    const run = async (paths: string[]) => {
      const script = `import { Http1Pool } from ${JSON.stringify(new URL('../../../src/management/http1-pool.ts', import.meta.url).href)};
        const p = new Http1Pool({ origin: ${JSON.stringify(echo.origin)}, idleMs: 20_000, maxSockets: 12 });
        const post = (path) => p.request({ method: 'POST', path, headers: {}, body: Buffer.from('x') }).then((r) => r.status);
        console.log((await Promise.all(${JSON.stringify(paths)}.map(post))).join(','));`;
      // Killed after 10 s: an exit code of 0 means it ended on its own, long before idleMs.
      const child = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
      return { stdout: child.stdout.trim(), stderr: child.stderr };
    };
    expect(await run([...Array(11).fill('/a'), '/late-close'])).toEqual({ stdout: Array(12).fill('200').join(','), stderr: '' });
    expect(await run(Array(12).fill('/a'))).toEqual({ stdout: Array(12).fill('200').join(','), stderr: '' });
  });

  it("honours the server's Keep-Alive: timeout hint, with a second's margin", async () => {
    // node:http announces "Keep-Alive: timeout=1" for a 1 s keepAliveTimeout: margin leaves 0 ms.
    const echo = await echoServer({ keepAliveTimeout: 1_000 });
    const p = pool({ origin: echo.origin });
    await post(p, '/a');
    await new Promise((r) => setTimeout(r, 5));
    await post(p, '/a');
    expect(echo.stats.connections).toBe(2);
  });

  it('Connection: close from the server ends that socket; the next request gets a new one', async () => {
    const echo = await echoServer({
      handle: (req, res) => {
        if (req.url !== '/close') return false;
        res.writeHead(200, { connection: 'close', 'content-length': 2 });
        res.end('ok');
        return true;
      },
    });
    const p = pool({ origin: echo.origin });
    expect((await post(p, '/close')).body.toString()).toBe('ok');
    expect((await post(p, '/after')).status).toBe(200);
    expect(echo.stats.connections).toBe(2);
  });

  it('speaks TLS, with SNI and certificate checks', async () => {
    const { port } = await listen(
      https.createServer({ cert, key }, (_req, res) => {
        res.writeHead(200, { 'content-length': 2 });
        res.end('ok');
      }),
    );
    const trusted = pool({ origin: `https://localhost:${port}`, tls: { ca: cert } });
    expect((await post(trusted, '/a')).body.toString()).toBe('ok');
    expect((await post(trusted, '/b')).status).toBe(200);
    const untrusted = pool({ origin: `https://localhost:${port}` });
    await expect(post(untrusted, '/a')).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });

  it("announces each request on a diagnostics channel, whose subscribers may add headers (the local gateway's invocation stamp)", async () => {
    const echo = await echoServer();
    const p = pool({ origin: echo.origin });
    const stamp = (message: unknown) => {
      (message as { request: Http1Request }).request.headers['x-stamp'] = 'inv-1';
    };
    requestCreatedChannel.subscribe(stamp);
    try {
      expect(json((await post(p, '/a')).body).headers['x-stamp']).toBe('inv-1');
    } finally {
      requestCreatedChannel.unsubscribe(stamp);
    }
    expect(json((await post(p, '/a')).body).headers['x-stamp']).toBeUndefined();
  });

  it('later TLS connections resume the session', async () => {
    const resumed: boolean[] = [];
    const server = https.createServer({ cert, key }, (_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-length': 0 });
        res.end();
      }, 20);
    });
    server.on('secureConnection', (socket) => {
      socket.once('data', () => resumed.push(socket.isSessionReused()));
    });
    const { port } = await listen(server);
    const p = pool({ origin: `https://localhost:${port}`, tls: { ca: cert } });
    await post(p, '/first');
    await Promise.all([post(p, '/a'), post(p, '/b'), post(p, '/c')]);
    expect(resumed).toEqual([false, true, true]);
  });
});

describe('timeouts and aborts', () => {
  it('a server that never answers: TimeoutError after timeoutMs; the pool goes on', async () => {
    const echo = await echoServer({ handle: (req) => req.url === '/hang' });
    const p = pool({ origin: echo.origin, timeoutMs: 100 });
    const started = Date.now();
    await expect(post(p, '/hang')).rejects.toMatchObject({ name: 'TimeoutError', code: 'ETIMEDOUT' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect((await post(p, '/fine')).status).toBe(200);
  });

  it('a TLS server that never completes the handshake: connect timeout', async () => {
    const { port } = await rawServer(() => {
      /* accept, say nothing */
    });
    const p = pool({ origin: `https://127.0.0.1:${port}`, connectTimeoutMs: 100, timeoutMs: 5_000 });
    await expect(post(p, '/a')).rejects.toMatchObject({ name: 'TimeoutError', message: 'no connection within 100 ms' });
  });

  it('an abort in flight destroys the socket and rejects with the reason', async () => {
    const echo = await echoServer({ handle: (req) => req.url === '/hang' });
    const p = pool({ origin: echo.origin });
    const controller = new AbortController();
    const pending = post(p, '/hang', 'x', controller.signal);
    setTimeout(() => controller.abort(new DOMException('deadline', 'TimeoutError')), 30);
    await expect(pending).rejects.toMatchObject({ name: 'TimeoutError', message: 'deadline' });
    await until(() => p.sockets === 0);
  });

  it('a request aborted while queued is never sent', async () => {
    const echo = await echoServer({ handle: (req) => req.url === '/hang' });
    const p = pool({ origin: echo.origin, maxSockets: 1, timeoutMs: 300 });
    const first = post(p, '/hang').catch((e: unknown) => e);
    const controller = new AbortController();
    const queued = post(p, '/queued', 'x', controller.signal);
    controller.abort();
    await expect(queued).rejects.toMatchObject({ name: 'AbortError' });
    expect(await first).toMatchObject({ code: 'ETIMEDOUT' });
    expect(echo.stats.requests).toBe(1);
  });

  it('an already-aborted signal sends nothing', async () => {
    const echo = await echoServer();
    const p = pool({ origin: echo.origin });
    await expect(post(p, '/a', 'x', AbortSignal.abort())).rejects.toMatchObject({ name: 'AbortError' });
    expect(echo.stats.connections).toBe(0);
  });
});

describe('a misbehaving server', () => {
  it('a reset mid-response is ECONNRESET; the next request opens a new socket', async () => {
    let calls = 0;
    const server = await rawServer((socket) => {
      socket.once('data', () => {
        if (calls++ === 0) {
          socket.write('HTTP/1.1 200 OK\r\nContent-Le');
          setTimeout(() => socket.destroy(), 10);
          return;
        }
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      });
    });
    const p = pool({ origin: server.origin });
    await expect(post(p, '/a')).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect((await post(p, '/a')).status).toBe(200);
  });

  it('garbage is an HPE error, and that socket is never reused', async () => {
    const server = await rawServer((socket) => {
      socket.once('data', () => socket.write('ICY 200 OK\r\n\r\n'));
    });
    const p = pool({ origin: server.origin });
    await expect(post(p, '/a')).rejects.toMatchObject({ code: 'HPE_INVALID_RESPONSE', message: expect.stringContaining('bad status line "ICY 200 OK"') });
    await until(() => p.sockets === 0);
  });

  it('a response with extra bytes after it: delivered, and the socket dropped', async () => {
    const server = await rawServer((socket) => {
      socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n'));
    });
    const p = pool({ origin: server.origin });
    expect((await post(p, '/a')).status).toBe(200);
    await until(() => p.sockets === 0);
  });

  it('an unreachable port is ECONNREFUSED', async () => {
    const { port } = await listen(net.createServer());
    await new Promise<void>((resolve) => {
      closers.pop()?.();
      resolve();
    });
    const p = pool({ origin: `http://127.0.0.1:${port}` });
    await expect(post(p, '/a')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe('stray bytes: a server that answers twice', () => {
  const stray = 'HTTP/1.1 200 OK\r\nx-for: stray\r\nContent-Length: 0\r\n\r\n';
  /**
   * Answers each request with its own path and the connection's number, so a request that got
   * someone else's answer (or the stray one) shows it. `after` may add stray bytes to the first
   * answer of each connection.
   */
  const answeringServer = async (after: (socket: net.Socket) => string = () => '') => {
    let connections = 0;
    const paths: string[] = [];
    const server = await rawServer((socket) => {
      const number = ++connections;
      let first = true;
      socket.on('data', (request: Buffer) => {
        // loopback: one small request per read
        const path = request.toString('latin1').split(' ')[1];
        paths.push(path as string);
        socket.write(`HTTP/1.1 200 OK\r\nx-for: ${path}\r\nx-connection: ${number}\r\nContent-Length: 0\r\n\r\n${first ? after(socket) : ''}`);
        first = false;
      });
    });
    return { ...server, paths, connections: () => connections };
  };
  const answer = (response: { headers: Record<string, string> }) => ({ for: response.headers['x-for'], connection: response.headers['x-connection'] });

  it('in the same write as a valid answer: the answer is delivered, the socket dropped; the next request gets its own answer on a new socket', async () => {
    const server = await answeringServer(() => stray);
    const p = pool({ origin: server.origin });
    expect(answer(await post(p, '/a'))).toEqual({ for: '/a', connection: '1' });
    expect(answer(await post(p, '/b'))).toEqual({ for: '/b', connection: '2' });
  });

  it('a request already queued behind the answer followed by stray bytes goes over a new socket', async () => {
    const server = await answeringServer(() => stray);
    const p = pool({ origin: server.origin, maxSockets: 1 });
    const [a, b] = await Promise.all([post(p, '/a'), post(p, '/b')]);
    expect(answer(a)).toEqual({ for: '/a', connection: '1' });
    expect(answer(b)).toEqual({ for: '/b', connection: '2' });
  });

  it('sent later, while the socket is idle: that socket is closed, the next request gets its own answer on a new socket', async () => {
    const server = await answeringServer();
    const p = pool({ origin: server.origin });
    expect(answer(await post(p, '/a'))).toEqual({ for: '/a', connection: '1' });
    for (const socket of server.sockets) socket.write(stray);
    await until(() => p.sockets === 0);
    expect(answer(await post(p, '/b'))).toEqual({ for: '/b', connection: '2' });
  });

  it('sent while the socket is idle and not yet read when the next request comes (a busy or thawed process): not taken as its answer', async () => {
    const server = await answeringServer();
    const p = pool({ origin: server.origin });
    expect(answer(await post(p, '/a'))).toEqual({ for: '/a', connection: '1' });
    await new Promise((r) => setTimeout(r, 20)); // idle for a while
    // On loopback a write lands in the client's receive buffer at once; the client's event loop
    // has not read it when the next request is made in the same turn.
    for (const socket of server.sockets) socket.write(stray);
    const b = post(p, '/b');
    expect(answer(await b)).toEqual({ for: '/b', connection: '2' });
    expect(server.connections()).toBe(2);
  });

  it('a socket idle for a while with nothing unread is still reused, after the check', async () => {
    const server = await answeringServer();
    const p = pool({ origin: server.origin });
    expect(answer(await post(p, '/a'))).toEqual({ for: '/a', connection: '1' });
    await new Promise((r) => setTimeout(r, 20));
    const [b, c] = await Promise.all([post(p, '/b'), post(p, '/c')]); // /c opens a second socket
    expect([answer(b), answer(c)]).toEqual([
      { for: '/b', connection: '1' },
      { for: '/c', connection: '2' },
    ]);
  });

  it('a request aborted while its socket is checked is never sent; the socket goes back to the idle list', async () => {
    const server = await answeringServer();
    const p = pool({ origin: server.origin, maxSockets: 1 });
    await post(p, '/a');
    await new Promise((r) => setTimeout(r, 20));
    const controller = new AbortController();
    const aborted = post(p, '/aborted', 'x', controller.signal);
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    expect(answer(await post(p, '/b'))).toEqual({ for: '/b', connection: '1' });
    expect(server.paths).toEqual(['/a', '/b']);
  });
});

describe('bad input', () => {
  it.each([
    ['a CR/LF in a header value', { 'x-amzn-trace-id': 'Root=1\r\nx-evil: 1' }, '/a', /invalid value for header x-amzn-trace-id/],
    ['a non-ASCII header value', { 'x-name': 'zoë' }, '/a', /only visible ASCII/],
    ['a bad header name', { 'bad name': 'x' }, '/a', /invalid header name "bad name"/],
    ['a path with a space', {}, '/a b', /invalid request path "\/a b"/],
    ['a wrong content-length', { 'content-length': '99' }, '/a', /content-length header says 99, body has 5 bytes/],
    ['a content-length that is not digits', { 'Content-length': '0x5' }, '/a', /content-length header says 0x5/],
    ['content-length twice', { 'content-length': '5', 'Content-Length': '5' }, '/a', /content-length given twice/],
    ['a transfer-encoding', { 'transfer-encoding': 'chunked' }, '/a', /transfer-encoding is not supported/],
  ])('%s is refused before anything is sent', async (_label, headers, path, message) => {
    const echo = await echoServer();
    const p = pool({ origin: echo.origin });
    await expect(p.request({ method: 'POST', path, headers, body: Buffer.from('hello') })).rejects.toThrow(message);
    expect(echo.stats.connections).toBe(0);
  });

  it('any casing of content-length is checked against the body, and sent once', async () => {
    const echo = await echoServer();
    const p = pool({ origin: echo.origin });
    const response = await p.request({ method: 'POST', path: '/a', headers: { 'Content-length': '5' }, body: Buffer.from('hello') });
    expect(json(response.body).headers['content-length']).toBe('5');
  });

  it.each([
    ['a CR/LF in the method', 'POST /x HTTP/1.1\r\nX-Injected: 1\r\nX-Ignore:', /unsupported request method/],
    ['a method beyond latin1 (whose low bytes would be CR LF)', 'P\u010d\u010aX', /unsupported request method/],
    ['HEAD (its answer has no body, whatever its length says)', 'HEAD', /unsupported request method "HEAD"/],
  ])('%s is refused', async (_label, method, message) => {
    const echo = await echoServer();
    const p = pool({ origin: echo.origin });
    await expect(p.request({ method, path: '/a', headers: {} })).rejects.toThrow(message);
    expect(echo.stats.connections).toBe(0);
  });

  it('options passed as undefined keep their defaults; nonsense numbers are refused', async () => {
    const echo = await echoServer();
    const p = pool({ origin: echo.origin, maxSockets: undefined, timeoutMs: undefined, connectTimeoutMs: undefined });
    expect((await post(p, '/a')).status).toBe(200);
    expect(() => new Http1Pool({ origin: echo.origin, maxSockets: 0 })).toThrow('maxSockets must be an integer >= 1; got 0');
    expect(() => new Http1Pool({ origin: echo.origin, timeoutMs: Number.NaN })).toThrow('timeoutMs must be a finite number >= 1; got NaN');
  });

  it('a request that asks for Connection: close does not leave its socket for reuse', async () => {
    const echo = await echoServer();
    const p = pool({ origin: echo.origin });
    await p.request({ method: 'POST', path: '/a', headers: { connection: 'close' }, body: Buffer.from('x') });
    await post(p, '/b');
    expect(echo.stats.connections).toBe(2);
  });

  it('an unsupported protocol is refused at construction', () => {
    expect(() => new Http1Pool({ origin: 'ftp://127.0.0.1' })).toThrow('unsupported protocol ftp:');
  });

  it('after destroy, queued and new requests fail clearly', async () => {
    const echo = await echoServer({ handle: (req) => req.url === '/hang' });
    const p = new Http1Pool({ origin: echo.origin, maxSockets: 1 });
    const inFlight = post(p, '/hang');
    const queued = post(p, '/q');
    p.destroy();
    await expect(queued).rejects.toMatchObject({ code: 'ERR_POOL_DESTROYED' });
    await expect(inFlight).rejects.toMatchObject({ code: 'ECONNRESET' });
    await expect(post(p, '/late')).rejects.toMatchObject({ code: 'ERR_POOL_DESTROYED' });
  });
});
