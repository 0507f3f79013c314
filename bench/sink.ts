// A stand-in for the API Gateway @connections API, run as its own process so that its CPU is
// not billed to the contender being measured. It answers like the real service:
//   POST   /{stage}/@connections/{id}  -> 200 (after `delayMs`), or 410 GoneException
//   DELETE /{stage}/@connections/{id}  -> 204, or 410
// and refuses unsigned requests with 403, so a contender cannot "win" by skipping SigV4.
// Control endpoints (not part of the real API):
//   PUT  /_config  {"delayMs":20,"goneShare":0.3}   GET /_stats   POST /_reset
// Usage: node bench/sink.ts [--port 0] ; prints {"port":N} on its first stdout line.
import http from 'node:http';
import { parseArgs } from 'node:util';
import { isGone } from './lib/gone.ts';

const defaults = { port: 0, delayMs: 0, goneShare: 0 };

const { values } = parseArgs({ options: { port: { type: 'string' }, 'delay-ms': { type: 'string' }, 'gone-share': { type: 'string' } } });
const config = {
  delayMs: Number(values['delay-ms'] ?? defaults.delayMs),
  goneShare: Number(values['gone-share'] ?? defaults.goneShare),
};
let stats = { posts: 0, deletes: 0, gone: 0, unsigned: 0, bytes: 0, inFlight: 0, peakInFlight: 0 };
const resetStats = () => { stats = { posts: 0, deletes: 0, gone: 0, unsigned: 0, bytes: 0, inFlight: 0, peakInFlight: 0 }; };

const marker = '/@connections/';

const readBody = (req: http.IncomingMessage): Promise<Buffer> => new Promise((resolve, reject) => {
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
    Object.assign(config, JSON.parse((await readBody(req)).toString()));
    return json(res, 200, config);
  }
  if (url === '/_stats') return json(res, 200, stats);
  if (url === '/_reset' && req.method === 'POST') { resetStats(); return json(res, 200, stats); }

  const at = url.indexOf(marker);
  if (at < 0) return json(res, 404, { message: 'Not Found' });
  const id = decodeURIComponent(url.slice(at + marker.length));
  const body = await readBody(req);
  if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 Credential=')) {
    stats.unsigned++;
    return json(res, 403, { message: 'Missing Authentication Token' }, { 'x-amzn-errortype': 'ForbiddenException' });
  }
  stats.inFlight++;
  if (stats.inFlight > stats.peakInFlight) stats.peakInFlight = stats.inFlight;
  if (config.delayMs > 0) await new Promise((r) => setTimeout(r, config.delayMs));
  stats.inFlight--;
  if (req.method === 'DELETE') stats.deletes++; else { stats.posts++; stats.bytes += body.length; }
  if (isGone(id, config.goneShare)) {
    stats.gone++;
    return json(res, 410, { message: null }, { 'x-amzn-errortype': 'GoneException' });
  }
  if (req.method === 'DELETE') { res.writeHead(204); res.end(); return; }
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
  process.stdout.write(JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 }) + '\n');
});
process.on('SIGTERM', () => { server.closeAllConnections(); server.close(() => process.exit(0)); });
process.on('disconnect', () => process.exit(0));
