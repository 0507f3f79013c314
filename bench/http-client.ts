// The HTTP client alone, without signing or the engine: node:http with a keep-alive Agent (what the
// signed transport used before) against src/management/http1-pool.ts (what it uses now), the same
// pre-signed-looking request to the same sink, interleaved in one process. Evidence for writing an
// HTTP/1.1 client by hand; see bench/README.md, "HTTP client".
// Usage: node bench/http-client.ts [--n 10000] [--concurrency 100] [--reps 3]
import http from 'node:http';
import { parseArgs } from 'node:util';
import { Http1Pool } from '../src/management/http1-pool.ts';
import { forEachBounded } from './lib/pool.ts';
import { startSink } from './lib/sink-process.ts';
import { median, round } from './lib/stats.ts';

const { values } = parseArgs({ options: { n: { type: 'string' }, concurrency: { type: 'string' }, reps: { type: 'string' } } });
const config = { n: Number(values.n ?? 10_000), concurrency: Number(values.concurrency ?? 100), reps: Number(values.reps ?? 3) };

const sink = await startSink();
await sink.configure({ delayMs: 0, goneShare: 0 });
const body = Buffer.alloc(120, 'x');
// The sink only checks that a signature is present; the headers have a signed request's shape.
const headers = () => ({
  'content-length': String(body.length),
  'content-type': 'application/octet-stream',
  host: `127.0.0.1:${sink.port}`,
  'x-amz-content-sha256': 'e'.repeat(64),
  'x-amz-date': '20261127T000000Z',
  authorization: `AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/execute-api/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=${'0'.repeat(64)}`,
});

const agent = new http.Agent({ keepAlive: true, maxSockets: config.concurrency, scheduling: 'lifo' });
const viaNodeHttp = (path: string) =>
  new Promise<number>((resolve, reject) => {
    const req = http.request({ agent, hostname: '127.0.0.1', port: sink.port, method: 'POST', path, headers: headers() }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
const pool = new Http1Pool({ origin: `http://127.0.0.1:${sink.port}`, maxSockets: config.concurrency });
const viaPool = async (path: string) => (await pool.request({ method: 'POST', path, headers: headers(), body })).status;

const clients = { 'node:http': viaNodeHttp, http1Pool: viaPool } as const;

/** N requests, `concurrency` at a time; returns CPU µs per request. */
const measure = async (send: (path: string) => Promise<number>, n: number) => {
  let failures = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await forEachBounded(
    Array.from({ length: n }, (_, i) => i),
    config.concurrency,
    async (i) => {
      if ((await send(`/bench/@connections/id-${i}`)) !== 200) failures++;
    },
  );
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (failures > 0) throw new Error(`${failures} requests failed`);
  return { cpuUsPerRequest: (cpu.user + cpu.system) / n, wallMs };
};

const samples: Record<string, number[]> = { 'node:http': [], http1Pool: [] };
for (const send of Object.values(clients)) await measure(send, 2_000); // JIT warm-up for both
for (let rep = 0; rep < config.reps; rep++) {
  for (const [name, send] of Object.entries(clients)) {
    const { cpuUsPerRequest, wallMs } = await measure(send, config.n);
    samples[name]?.push(cpuUsPerRequest);
    process.stderr.write(`${name.padEnd(10)} rep ${rep + 1}: ${round(cpuUsPerRequest)} µs/request, ${round(wallMs)} ms\n`);
  }
}
const nodeHttp = median(samples['node:http'] ?? []);
const pooled = median(samples.http1Pool ?? []);
process.stdout.write(`${JSON.stringify({ ...config, nodeHttpUs: round(nodeHttp), http1PoolUs: round(pooled), ratio: round(pooled / nodeHttp, 2) })}\n`);
pool.destroy();
agent.destroy();
await sink.stop();
