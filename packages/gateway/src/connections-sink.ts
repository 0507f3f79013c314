// A loopback @connections API for `npm run invoke` when no gateway is running: every connection
// id counts as connected; each request is recorded so the CLI can show what the function sent.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isUtf8 } from 'node:buffer';

export interface SinkRequest {
  method: string;
  connectionId: string;
  body: Buffer;
}

export interface ConnectionsSink {
  endpoint: string;
  requests: SinkRequest[];
  stop(): Promise<void>;
}

const pathPattern = /^(?:\/[^/]+)?\/@connections\/([^/?]+)/;

export const describeBody = (body: Buffer): string => (isUtf8(body) ? body.toString('utf8') : `<${body.length} binary bytes>`);

export const startConnectionsSink = async (): Promise<ConnectionsSink> => {
  const requests: SinkRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const match = pathPattern.exec(req.url ?? '');
      if (!match) {
        res.writeHead(404, { 'x-amzn-ErrorType': 'NotFoundException', 'content-type': 'application/json' }).end('{"message":"not a @connections path"}');
        return;
      }
      const connectionId = decodeURIComponent(match[1]!);
      requests.push({ method: req.method ?? '?', connectionId, body: Buffer.concat(chunks) });
      if (req.method === 'DELETE') return void res.writeHead(204).end();
      if (req.method === 'GET') {
        const now = new Date().toISOString();
        const body = JSON.stringify({ connectedAt: now, lastActiveAt: now, identity: { sourceIp: '127.0.0.1', userAgent: 'npm run invoke' } });
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};
