// npm run bench:backpressure [-- --quick] [--no-control] [--limits] [--messages 2500] [--rate 150]
// The backpressure canary (bench/lib/backpressure-canary.ts): a room flooded with 8 KB messages
// while one member never reads, against the control run where everyone reads; prints the other
// members' message latency (p50, p99, max), lost probes and the send invocations' p99.
import { parseArgs } from 'node:util';
import { canaryDefaults, runCanary, type CanaryResult } from './lib/backpressure-canary.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'no-control': { type: 'boolean', default: false },
    limits: { type: 'boolean', default: false },
    messages: { type: 'string' },
    rate: { type: 'string' },
  },
});
const messages = Number(values.messages ?? (values.quick ? 1_000 : canaryDefaults.messages));
const rate = Number(values.rate ?? canaryDefaults.rate);
const line = (label: string, r: CanaryResult) =>
  console.log(
    `${label.padEnd(22)} probes ${String(r.latencies.length).padStart(3)}  p50 ${r.p50.toFixed(0).padStart(6)} ms  p99 ${r.p99.toFixed(0).padStart(6)} ms  ` +
      `max ${r.max.toFixed(0).padStart(6)} ms  lost ${r.lost}  send p99 ${r.sendP99Ms.toFixed(0)} ms  flood ${(r.floodMs / 1000).toFixed(1)} s\n` +
      `${''.padEnd(22)} slowest (sent at +ms: latency ms): ${r.worst.map((w) => `+${w.at}: ${w.latency}`).join(', ')}\n` +
      `${''.padEnd(22)} send invocations ${r.send.count}: p50 ${r.send.p50} ms, p90 ${r.send.p90} ms, max ${r.send.max} ms`,
  );
console.log(`backpressure canary: ${messages} messages of ${canaryDefaults.bytes} bytes at ${rate}/s to a room, limits ${values.limits ? 'on' : 'off'}`);
if (!values['no-control']) line('control (all read)', await runCanary({ stuck: false, messages, rate, limits: values.limits }));
line('one member stuck', await runCanary({ stuck: true, messages, rate, limits: values.limits }));
