// A local AWS service behind its IAM front: the server (dynalite, fauxqs) on an ephemeral loopback
// port, the front on the port the user chose (or its variable's) and, for the functions, at the
// service's AWS host name. DynamoDB and SQS are started the same way; only the parts differ.
import type { AppModel } from '../app-model.ts';
import type { HostCheck } from '../host-check.ts';
import type { IamCheck } from '../iam/check.ts';
import type { Logger } from '../log.ts';
import { closeServer, listen, serverFor } from './http.ts';
import type { GatewayService, HostHandler } from './service.ts';

/** What the gateway gives every fronted service. */
export interface FrontedServiceOptions {
  model: AppModel;
  host: string;
  port: number;
  awsHost: string;
  region: string;
  accountId: string;
  iam: IamCheck;
  log: Logger;
  hostCheck: HostCheck;
}

/** The service's own parts: its server, and the IAM front made for that server's endpoint. */
export interface FrontedParts<Server extends { endpoint: string; stop(): Promise<void> }> {
  /** 'DynamoDB', 'SQS': the service's name in logs and errors. */
  name: string;
  /** The variable that moves its port, named when the port is busy. */
  portVariable: string;
  server: Server;
  front: { handle: HostHandler; close(): void };
}

/** Serves the front, or stops everything already started when the port is busy. */
export const startFronted = async <Server extends { endpoint: string; stop(): Promise<void> }>(
  options: FrontedServiceOptions,
  parts: FrontedParts<Server>,
): Promise<GatewayService & { endpoint: string }> => {
  const { name, front } = parts;
  const server = serverFor(`${name} front`, front.handle, options.log, options.hostCheck);
  const stop = async () => {
    await closeServer(server);
    front.close();
    await parts.server.stop();
  };
  let port: number;
  try {
    port = await listen(server, options.port, options.host, parts.portVariable, `${name} port`);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    name,
    endpoint: `http://${options.host}:${port}`,
    hosts: [{ host: options.awsHost, handler: front.handle, plainPort: port }],
    stop,
  };
};
