// An embedded, in-memory DynamoDB (dynalite) on loopback, with the template's tables created from
// their definitions. dynalite has no TimeToLive API, so TTL is not enforced locally: the
// connection store filters expired items on read, as it must on AWS too.
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import type { TableModel } from './app-model.ts';
import { withDefaults } from 'ws-outbox/util';

export interface DynamoOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  tables: TableModel[];
  region: string;
}

export interface LocalDynamo {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

const defaults: DynamoOptions = { host: '127.0.0.1', port: 8000, tables: [], region: 'us-east-1' };

/** Credentials dynalite accepts (it does not check them); never real ones. */
export const localCredentials = { accessKeyId: 'ASIALOCALGATEWAY0000', secretAccessKey: 'local-gateway-not-a-secret' };

export const startDynamo = async (options: Partial<DynamoOptions> = {}): Promise<LocalDynamo> => {
  const opts = withDefaults(defaults, options);
  // Tables become ACTIVE at once, so the first invocation never meets a CREATING table.
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new Error(`DynamoDB port ${opts.port} is in use: set DYNAMODB_PORT to a free port`) : error),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  // Requests being answered. dynalite closes its database once the HTTP server has closed; a
  // request cut off mid-write then makes it throw "Database is closed" from a callback, which
  // kills the process. So stop() lets the requests in flight finish before closing sockets.
  let active = 0;
  let onDrained: (() => void) | undefined;
  server.on('request', (_req: unknown, res: ServerResponse) => {
    active++;
    res.once('close', () => {
      active--;
      if (active === 0) onDrained?.();
    });
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://${opts.host}:${port}`;
  const client = new DynamoDBClient({ endpoint, region: opts.region, credentials: localCredentials });
  try {
    for (const table of opts.tables) {
      await client.send(new CreateTableCommand(table.definition as never));
    }
  } catch (error) {
    server.close();
    throw new Error(`Cannot create the template's tables in dynalite: ${(error as Error).message}`);
  } finally {
    client.destroy();
  }
  return {
    endpoint,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve()); // no new connections; the database closes after the last one
        const closeSockets = () => server.closeAllConnections();
        if (active === 0) return closeSockets();
        onDrained = closeSockets;
        // A request that never ends must not hold the stop forever.
        setTimeout(closeSockets, 2_000).unref();
      }),
  };
};
