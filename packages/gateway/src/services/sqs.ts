// SQS: the embedded fauxqs with the template's queues and redrive policies, behind the IAM front
// on its own loopback port (SQS_PORT) and, for the functions, at SQS's AWS host name. Started only
// when the template has queues.
import type { AppModel } from '../app-model.ts';
import type { HostCheck } from '../host-check.ts';
import type { IamCheck } from '../iam/check.ts';
import type { Logger } from '../log.ts';
import { createSqsFront } from '../sqs-front.ts';
import { startSqs, type LocalSqs } from '../sqs.ts';
import { closeServer, listen, serverFor } from './http.ts';
import type { GatewayService } from './service.ts';

export interface SqsService extends GatewayService {
  sqs: LocalSqs;
  endpoint: string;
}

export const startSqsService = async (options: {
  model: AppModel;
  host: string;
  port: number;
  awsHost: string;
  region: string;
  accountId: string;
  iam: IamCheck;
  log: Logger;
  hostCheck: HostCheck;
}): Promise<SqsService> => {
  const sqs = await startSqs({ host: '127.0.0.1', port: 0, queues: options.model.queues, region: options.region });
  const front = createSqsFront({ upstream: sqs.endpoint, iam: options.iam, region: options.region, accountId: options.accountId });
  const server = serverFor('SQS front', front.handle, options.log, options.hostCheck);
  const stop = async () => {
    await closeServer(server);
    front.close();
    await sqs.stop();
  };
  let port: number;
  try {
    port = await listen(server, options.port, options.host, 'SQS_PORT', 'SQS port');
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    name: 'SQS',
    sqs,
    endpoint: `http://${options.host}:${port}`,
    hosts: [{ host: options.awsHost, handler: front.handle, plainPort: port }],
    stop,
  };
};
