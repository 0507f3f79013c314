// The gateway's TLS endpoint for the AWS host names its functions call (egress.ts sends their
// connections here): one HTTPS server on loopback with a certificate from the gateway's own CA
// (local-ca.ts), passing each request to the handler of the host it names, as AWS's front doors
// do: `<apiId>.execute-api.<region>.amazonaws.com` → the @connections API,
// `dynamodb.<region>.amazonaws.com` → the DynamoDB front.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LocalCa } from './local-ca.ts';

export type HostHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export interface AwsFront {
  port: number;
  close(): Promise<void>;
}

const hostOf = (req: IncomingMessage): string =>
  String(req.headers.host ?? '')
    .toLowerCase()
    .replace(/:\d+$/, '')
    .replace(/\.$/, '');

export const startAwsFront = async (
  ca: LocalCa,
  handlers: Map<string, HostHandler>,
  onError: (error: Error, req: IncomingMessage) => void,
): Promise<AwsFront> => {
  const server: Server = createServer({ cert: ca.certPem, key: ca.keyPem, keepAliveTimeout: 60_000 });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const handler = handlers.get(hostOf(req));
    if (!handler) {
      req.resume();
      res.writeHead(421, { 'content-type': 'application/json' }).end(JSON.stringify({ message: `Misdirected request: ${hostOf(req)} is not served here` }));
      return;
    }
    handler(req, res).catch((error: Error) => {
      onError(error, req);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'Internal error in the local gateway' }));
    });
  });
  server.on('tlsClientError', () => {}); // a worker killed mid-handshake
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};
