// Small HTTP helpers the services share: listen with a clear error for a busy port, close with
// every connection, and serve a request handler with a logged 500 for what it throws.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { refuseHost, type HostCheck } from '../host-check.ts';
import type { Logger } from '../log.ts';
import type { HostHandler } from './service.ts';

/** Listens; a busy port is an error naming the variable that moves it (`what`). */
export const listen = (server: Server, port: number, host: string, what: string, label = 'Port'): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new Error(`${label} ${port} is in use: set ${what} to a free port`) : error),
    );
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });

export const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });

export const serviceUnavailable = (res: ServerResponse, why: string) => {
  if (res.headersSent) return res.end();
  const body = JSON.stringify({ message: `Service Unavailable: ${why}` });
  res.writeHead(503, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'retry-after': '1' }).end(body);
};

/** A server for one front's handler (for the Host names `hostCheck` allows); what it throws is logged under `name` and answered 500. */
export const serverFor = (name: string, handle: HostHandler, log: Logger, hostCheck: HostCheck): Server =>
  createServer((req, res) => {
    if (!hostCheck.allows(req)) return refuseHost(req, res);
    handle(req, res).catch((error: Error) => {
      log.error(`${name}: ${error.stack ?? error.message}`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
