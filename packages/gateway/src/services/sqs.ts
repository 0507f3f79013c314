// SQS: the embedded fauxqs with the template's queues and redrive policies, behind the IAM front
// on its own loopback port (SQS_PORT) and, for the functions, at SQS's AWS host name. Started only
// when the template has queues.
import { createSqsFront } from '../sqs-front.ts';
import { type LocalSqs, startSqs } from '../sqs.ts';
import { type FrontedServiceOptions, startFronted } from './fronted.ts';
import type { GatewayService } from './service.ts';

export interface SqsService extends GatewayService {
  sqs: LocalSqs;
  endpoint: string;
}

export const startSqsService = async (options: FrontedServiceOptions): Promise<SqsService> => {
  const sqs = await startSqs({ host: '127.0.0.1', port: 0, queues: options.model.queues, region: options.region });
  const front = createSqsFront({ upstream: sqs.endpoint, iam: options.iam, region: options.region, accountId: options.accountId });
  return { ...(await startFronted(options, { name: 'SQS', portVariable: 'SQS_PORT', server: sqs, front })), sqs };
};
