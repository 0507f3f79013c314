// One measured broadcast in a fresh process, so that each contender's heap, RSS and JIT state
// start equal. Prints one JSON line: { contender, n, wallMs, cpuUs, peakRss, peakHeap, sent, ... }.
// Usage: node --expose-gc bench/worker.ts --contender naive --n 1000 --endpoint http://127.0.0.1:P/bench
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { benchIds } from './lib/gone.ts';
import { contenders, type ContenderName } from './contenders/index.ts';

const defaults = { concurrency: 50, region: 'us-east-1', warmup: 50, bodyBytes: 120 };

const { values } = parseArgs({
  options: {
    contender: { type: 'string' },
    n: { type: 'string' },
    endpoint: { type: 'string' },
    concurrency: { type: 'string' },
    warmup: { type: 'string' },
  },
});
const name = values.contender as ContenderName;
const n = Number(values.n);
const endpoint = values.endpoint ?? process.env.AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI ?? '';
// The outbox reads the endpoint from the SDK's own variable, as in a deployment with an override.
process.env.AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI = endpoint;
const concurrency = Number(values.concurrency ?? defaults.concurrency);
const warmup = Number(values.warmup ?? defaults.warmup);

// A chat message of a realistic size, serialized once.
const message = { type: 'message', room: 'bench', from: 'conn-sender', text: 'x'.repeat(defaults.bodyBytes - 60) };
const body = new TextEncoder().encode(JSON.stringify(message));

const contender = await contenders[name]({
  endpoint,
  region: defaults.region,
  concurrency,
  ...(values.concurrency === undefined ? {} : { explicitConcurrency: concurrency }),
});
// Warm-up on ids outside the measured set: loads lazy SDK modules, resolves credentials, opens
// sockets. A warm Lambda invocation looks like this.
if (warmup > 0) await contender.broadcast(benchIds(warmup, 'warm'), body);
const ids = benchIds(n);
globalThis.gc?.();

// Sampled, not exact: the heap peaks between GCs, so this is a lower bound on the true peak.
let peakHeap = v8.getHeapStatistics().used_heap_size;
const sampler = setInterval(() => {
  const used = v8.getHeapStatistics().used_heap_size;
  if (used > peakHeap) peakHeap = used;
}, 5);
sampler.unref();

const cpu0 = process.cpuUsage();
const t0 = performance.now();
const result = await contender.broadcast(ids, body);
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
clearInterval(sampler);
const used = v8.getHeapStatistics().used_heap_size;
if (used > peakHeap) peakHeap = used;
await contender.close();

process.stdout.write(
  `${JSON.stringify({
    contender: name,
    n,
    concurrency,
    wallMs,
    cpuUs: cpu.user + cpu.system,
    // maxRSS is the process lifetime peak, in KiB: what a Lambda memory limit is checked against.
    peakRss: process.resourceUsage().maxRSS * 1024,
    peakHeap,
    ...result,
  })}\n`,
);
process.exit(0);
