// Ad-hoc: naive vs raw vs outbox-signed at N, delay, interleaved reps.
import { runChild } from '/work/main/bench/lib/child.ts';
import { startSink } from '/work/main/bench/lib/sink-process.ts';
import { bundle } from '/work/main/bench/lib/bundle.ts';
const n = Number(process.argv[2] ?? 10000), delayMs = Number(process.argv[3] ?? 20), reps = Number(process.argv[4] ?? 2);
const contenders = (process.argv[5] ?? 'naive,raw,outbox-signed').split(',');
const extra = process.argv.slice(6);
Object.assign(process.env, { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AKIDBENCHMARK', AWS_SECRET_ACCESS_KEY: 'bench-secret' });
const sink = await startSink();
await sink.configure({ delayMs, goneShare: 0 });
const worker = await bundle('worker.ts');
for (let r = 0; r < reps; r++) for (const c of contenders) {
  const o: any = await runChild(worker, ['--contender', c, '--n', String(n), ...extra], { nodeFlags: ['--expose-gc'], env: { AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: sink.endpoint } });
  if (!o.ok) { console.log(c, 'FAILED', o.stderrTail); continue; }
  console.log(c.padEnd(14), 'wall', o.result.wallMs.toFixed(0), 'µs/msg', (o.result.cpuUs / n).toFixed(0), 'rss', (o.result.peakRss / 2 ** 20).toFixed(0), 'sent', o.result.sent);
}
await sink.stop?.();
process.exit(0);
