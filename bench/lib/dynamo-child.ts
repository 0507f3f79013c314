// dynalite and the counting proxy (dynamo-proxy.ts) in a process of their own, so that a bench
// bills only the contender's CPU. Prints {"endpoint","control","tableName"} on its first line;
// the control server answers POST /start (zero the counts, count from now), POST /stop (the counts).
// Exits when its parent closes stdin.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startDynalite } from '../../test/helpers/dynalite.ts';
import { startDynamoProxy } from './dynamo-proxy.ts';

const tableName = process.argv[2] ?? 'ws-outbox-bench';
const delayMs = Number(process.argv[3] ?? 0);
const dynamo = await startDynalite(tableName);
const proxy = await startDynamoProxy(dynamo.endpoint, { delayMs });
const control = http.createServer((req, res) => {
  const body = req.url === '/start' ? (proxy.start(), {}) : req.url === '/stop' ? proxy.stop() : undefined;
  res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? {}));
});
await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
process.stdout.write(JSON.stringify({ endpoint: proxy.endpoint, control: `http://127.0.0.1:${(control.address() as AddressInfo).port}`, tableName }) + '\n');
process.stdin.resume();
process.stdin.on('end', async () => {
  control.close();
  proxy.close();
  await dynamo.stop();
  process.exit(0);
});
