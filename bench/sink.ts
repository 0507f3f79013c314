// A stand-in for the API Gateway @connections API, run as its own process so that its CPU is
// not billed to the contender being measured. It answers like the real service:
//   POST   /{stage}/@connections/{id}  -> 200 (after `delayMs`), or 410 GoneException
//   DELETE /{stage}/@connections/{id}  -> 204, or 410
// and refuses unsigned requests with 403, so a contender cannot "win" by skipping SigV4.
// With `rateLimit` set it throttles like API Gateway's account limit: a token bucket of
// `rateLimit` requests/s (burst `burst`, a tenth of a second's worth by default), and 429
// LimitExceededException for a request that finds no token (it takes none).
// Control endpoints (not part of the real API):
//   PUT  /_config  {"delayMs":20,"goneShare":0.3,"rateLimit":5000}   GET /_stats   POST /_reset
// A `rateLimit` or `burst` in /_config starts a fresh bucket; /_reset does too.
// Usage: node bench/sink.ts [--port 0] ; prints {"port":N} on its first stdout line.
import http from 'node:http';
import { parseArgs } from 'node:util';
import { isGone } from './lib/gone.ts';
import { TokenBucket } from './lib/token-bucket.ts';

const defaults = { port: 0, delayMs: 0, goneShare: 0, rateLimit: 0 };

const { values } = parseArgs({ options: { port: { type: 'string' }, 'delay-ms': { type: 'string' }, 'gone-share': { type: 'string' } } });
const config: { delayMs: number; goneShare: number; rateLimit: number; burst?: number } = {
  delayMs: Number(values['delay-ms'] ?? defaults.delayMs),
  goneShare: Number(values['gone-share'] ?? defaults.goneShare),
  rateLimit: defaults.rateLimit,
};
const freshStats = () => ({
  posts: 0,
  gets: 0,
  deletes: 0,
  gone: 0,
  unsigned: 0,
  bytes: 0,
  inFlight: 0,
  peakInFlight: 0,
  throttled: 0,
  firstAt: 0,
  lastAt: 0,
  ids: 0,
  duplicates: 0,
  perSecond: [] as number[],
});
let stats = freshStats();
let bucket = new TokenBucket({ rate: config.rateLimit }, performance.now());
// Which ids got a 200 and how often, when counting is on (the fan-out bench checks exactly-once).
let seen: Map<string, number> | undefined;
const resetStats = () => {
  stats = freshStats();
  bucket = new TokenBucket({ rate: config.rateLimit, burst: config.burst }, performance.now());
  if (seen) seen = new Map();
};

const marker = '/@connections/';

const readBody = (req: http.IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
};

const answer = async (req: http.IncomingMessage, res: http.ServerResponse) => {
  const url = req.url ?? '/';
  if (url === '/_config' && req.method === 'PUT') {
    const update = JSON.parse((await readBody(req)).toString()) as Partial<typeof config> & { countIds?: boolean };
    const { countIds, ...rest } = update;
    Object.assign(config, rest);
    if (countIds !== undefined) seen = countIds ? new Map() : undefined;
    if ('rateLimit' in update || 'burst' in update) bucket = new TokenBucket({ rate: config.rateLimit, burst: config.burst }, performance.now());
    return json(res, 200, { ...config, burst: bucket.burst });
  }
  if (url === '/_ids') return json(res, 200, seen ? Object.fromEntries(seen) : null);
  if (url === '/_stats') return json(res, 200, { ...stats, admitted: bucket.admitted, refused: bucket.refused });
  if (url === '/_reset' && req.method === 'POST') {
    resetStats();
    return json(res, 200, stats);
  }

  const at = url.indexOf(marker);
  if (at < 0) return json(res, 404, { message: 'Not Found' });
  const id = decodeURIComponent(url.slice(at + marker.length));
  const body = await readBody(req);
  if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 Credential=')) {
    stats.unsigned++;
    return json(res, 403, { message: 'Missing Authentication Token' }, { 'x-amzn-errortype': 'ForbiddenException' });
  }
  if (!bucket.take(performance.now())) {
    stats.throttled++;
    return json(res, 429, { message: 'Too Many Requests' }, { 'x-amzn-errortype': 'LimitExceededException' });
  }
  stats.inFlight++;
  if (stats.inFlight > stats.peakInFlight) stats.peakInFlight = stats.inFlight;
  if (config.delayMs > 0) await new Promise((r) => setTimeout(r, config.delayMs));
  stats.inFlight--;
  if (req.method === 'DELETE') stats.deletes++;
  else if (req.method === 'GET') stats.gets++;
  else {
    stats.posts++;
    stats.bytes += body.length;
  }
  if (isGone(id, config.goneShare)) {
    stats.gone++;
    return json(res, 410, { message: null }, { 'x-amzn-errortype': 'GoneException' });
  }
  // GetConnection (the engine confirms a 410 with one): a live connection's details.
  if (req.method === 'GET')
    return json(res, 200, {
      connectedAt: new Date().toISOString(),
      identity: { sourceIp: '127.0.0.1', userAgent: 'bench' },
      lastActiveAt: new Date().toISOString(),
    });
  if (req.method === 'DELETE') {
    res.writeHead(204);
    res.end();
    return;
  }
  const doneAt = Date.now();
  stats.firstAt ||= doneAt;
  stats.lastAt = doneAt;
  // 200s per second since the first one: where a fan-out loses time (start, middle or tail).
  const second = Math.floor((doneAt - stats.firstAt) / 1000);
  while (stats.perSecond.length <= second) stats.perSecond.push(0);
  stats.perSecond[second]!++;
  if (seen) {
    const n = (seen.get(id) ?? 0) + 1;
    seen.set(id, n);
    if (n === 1) stats.ids++;
    else stats.duplicates++;
  }
  res.writeHead(200, { 'content-length': 0 });
  res.end();
};

const server = http.createServer((req, res) => {
  answer(req, res).catch((error: unknown) => json(res, 500, { message: String(error) }));
});
// Keep sockets open as long as any client wants: the contenders rely on keep-alive.
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.maxRequestsPerSocket = 0;
server.listen(Number(values.port ?? defaults.port), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
// The harness keeps a pipe to our stdin open: when it dies (even by SIGKILL), the pipe closes and so do we.
if (!process.stdin.isTTY) process.stdin.on('end', () => process.exit(0)).resume();
