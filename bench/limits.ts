// A broadcast through the local gateway with and without Lambda's CPU and memory limits
// (packages/gateway/src/cgroups.ts), in the same run: N real `ws` clients, one `floodoutbox` message (the
// outbox's bounded, awaited fan-out to every client) from a 256 MB function, timed from the send
// until every client has its message. Warm instances; the median of R broadcasts per mode.
// Prints one line per mode and the ratio. Usage: npm run bench:limits [-- --n 300 --rounds 5]
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { startGateway } from '../packages/gateway/src/gateway.ts';
import type { InvocationReport } from '../packages/gateway/src/websocket-api.ts';

const { values } = parseArgs({ options: { n: { type: 'string' }, rounds: { type: 'string' } } });
const n = Number(values.n ?? 300);
const rounds = Number(values.rounds ?? 5);
const template = 'test/fixtures/template.yaml'; // FloodOutboxFunction: MemorySize 256, 14.5 % of a vCPU

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const measure = async (limits: boolean) => {
  const gateway = await startGateway({ template, port: 0, dynamodbPort: 0, quiet: true, limits });
  if (limits && !gateway.limits) {
    await gateway.stop();
    return undefined;
  }
  const ids: string[] = [];
  gateway.events.on('invocation', (r: InvocationReport) => {
    if (r.route === '$connect' && r.statusCode === 200) ids.push(r.connectionId);
  });
  let received = 0;
  let onAll: (() => void) | undefined;
  const clients = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(gateway.wsUrl);
          ws.on('message', () => {
            if (++received === n) onAll?.();
          });
          ws.once('open', () => resolve(ws));
          ws.once('error', reject);
        }),
    ),
  );
  const times: number[] = [];
  for (let round = 0; round <= rounds; round++) {
    received = 0;
    const done = new Promise<void>((resolve) => {
      onAll = resolve;
    });
    const started = performance.now();
    clients[0]!.send(JSON.stringify({ action: 'floodoutbox', to: ids, text: `round ${round}` }));
    await done;
    if (round > 0) times.push(performance.now() - started); // round 0 warms the instance
  }
  for (const ws of clients) ws.terminate();
  await gateway.stop();
  return median(times);
};

const without = await measure(false);
const withLimits = await measure(true);
console.log(`broadcast to ${n} clients, median of ${rounds}: without limits ${without!.toFixed(0)} ms`);
if (withLimits === undefined) {
  console.log('with limits: cgroups are not available here (needs root on Linux); nothing to compare');
} else {
  console.log(
    `broadcast to ${n} clients, median of ${rounds}: with limits (256 MB → ${((256 / 1769) * 100).toFixed(1)} % of a vCPU) ${withLimits.toFixed(0)} ms`,
  );
  console.log(`ratio with/without: ${(withLimits / without!).toFixed(2)}×`);
}
