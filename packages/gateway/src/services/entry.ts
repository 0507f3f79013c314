// The gateway's front door: one loopback HTTP server (PORT) for the WebSocket API, the
// @connections API, the development issuer and the static folder. It listens before anything
// else starts, so a client that connects during the build is held (then served, or told 503)
// rather than refused or left hanging.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { refuseHost, refusedHostMessage, type HostCheck } from '../host-check.ts';
import { createStartupGate } from '../startup-gate.ts';
import { refuseUpgrade } from '../websocket-api.ts';
import { closeServer, listen, serviceUnavailable } from './http.ts';
import type { GatewayService } from './service.ts';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface EntryService extends GatewayService {
  port: number;
  /** Starts serving with these handlers; requests held so far go to them. */
  open(request: RequestHandler, upgrade: UpgradeHandler): void;
  /** Start-up failed: held and later clients are told why (503). */
  fail(why: string): void;
}

export const startEntry = async (options: { host: string; port: number; holdMs: number; hostCheck: HostCheck }): Promise<EntryService> => {
  const { hostCheck } = options;
  const gate = createStartupGate(options.holdMs);
  const server = createServer();
  let handleRequest: RequestHandler = () => {};
  let handleUpgrade: UpgradeHandler = () => {};
  server.on('request', (req, res) =>
    hostCheck.allows(req)
      ? gate.hold(
          () => handleRequest(req, res),
          (why) => {
            req.resume();
            serviceUnavailable(res, why);
          },
        )
      : refuseHost(req, res),
  );
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    if (!hostCheck.allows(req)) return refuseUpgrade(socket, 403, JSON.stringify({ message: refusedHostMessage(req) }));
    gate.hold(
      () => handleUpgrade(req, socket, head),
      (why) => refuseUpgrade(socket, 503, JSON.stringify({ message: `Service Unavailable: ${why}` }), { 'Retry-After': '1' }),
    );
  });
  const port = await listen(server, options.port, options.host, 'PORT');
  return {
    name: 'HTTP entry',
    port,
    open(request, upgrade) {
      handleRequest = request;
      handleUpgrade = upgrade;
      gate.open();
    },
    fail: (why) => gate.fail(why),
    stop: () => closeServer(server),
  };
};
