// A loopback proxy in front of dynalite: counts DynamoDB requests by operation (X-Amz-Target),
// retries included, and can add a round trip (dynalite answers in well under a millisecond,
// DynamoDB in-region in a few), so that reading shards in parallel shows what it saves.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const startDynamoProxy = async (target: string, options: { delayMs?: number } = {}) => {
  const counts: Record<string, number> = {};
  let counting = false;
  let delayMs = options.delayMs ?? 0;
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const op = String(req.headers['x-amz-target'] ?? '?').split('.').pop()!;
    if (counting) counts[op] = (counts[op] ?? 0) + 1;
    const forward = () => {
      const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      out.on('error', (e) => { res.writeHead(502); res.end(String(e)); });
      req.pipe(out);
    };
    if (delayMs > 0) setTimeout(forward, delayMs);
    else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    setDelay: (ms: number) => { delayMs = ms; },
    start: () => { counting = true; for (const k of Object.keys(counts)) delete counts[k]; },
    stop: () => { counting = false; return { ...counts }; },
    close: () => { agent.destroy(); server.closeAllConnections(); server.close(); },
  };
};
