// The TLS front: the AWS host names the functions call (execute-api, DynamoDB, SQS), served over
// TLS with a CA that only the function workers trust (NODE_EXTRA_CA_CERTS), and the egress
// routes that bring those names to it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAwsFront } from '../aws-front.ts';
import type { EgressConfig } from '../egress.ts';
import { createLocalCa } from '../local-ca.ts';
import type { Logger } from '../log.ts';
import type { GatewayService, ServedHost } from './service.ts';

export interface TlsFrontService extends GatewayService {
  /** The CA's certificate, for NODE_EXTRA_CA_CERTS. */
  caFile: string;
  egress: EgressConfig;
}

export const startTlsFront = async (options: { hosts: ServedHost[]; folder: string; log: Logger }): Promise<TlsFrontService> => {
  const ca = await createLocalCa(options.hosts.map((h) => h.host));
  const caFile = join(options.folder, 'local-ca.pem');
  writeFileSync(caFile, ca.caPem);
  const front = await startAwsFront(ca, new Map(options.hosts.map((h) => [h.host, h.handler])), (error, req) =>
    options.log.error(`${req.headers.host} ${req.method} ${req.url}: ${error.stack ?? error.message}`),
  );
  return {
    name: 'TLS front',
    caFile,
    egress: { routes: Object.fromEntries(options.hosts.map((h) => [h.host, { tls: front.port, plain: h.plainPort }])) },
    stop: async () => front.close(),
  };
};
